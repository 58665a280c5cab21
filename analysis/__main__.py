"""`python -m analysis` is `python -m analysis.compare`."""

from analysis.compare import main

raise SystemExit(main())
