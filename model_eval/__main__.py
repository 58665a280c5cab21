"""Entry point: ``python -m model_eval`` delegates to :func:`model_eval.cli.main`."""

from model_eval.cli import main

raise SystemExit(main())
