"""The whole study as one command (stimuli -> network -> predictions -> server -> report)."""
