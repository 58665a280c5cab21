"""`python -m analysis.compare`: the human-vs-model report (the compare command of analysis.cli).

From Python, call analysis.write_report with typed arguments instead.
"""

from analysis.cli import compare_main as main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
