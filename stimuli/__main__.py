"""python -m stimuli: delegates to stimuli.cli.main."""

from .cli import main

raise SystemExit(main())
