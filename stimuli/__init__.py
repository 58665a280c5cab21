"""stimuli package."""
