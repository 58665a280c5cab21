"""`python -m analysis CMD` (e.g. `python -m analysis compare ...`): delegates to analysis.cli."""

from analysis.cli import main

raise SystemExit(main())
