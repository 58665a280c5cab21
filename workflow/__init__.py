"""workflow: the whole study as Python functions (stimuli -> network -> predictions -> server -> report).

- `prepare_study(StudyOptions(...))` builds the default stimulus set, trains the default network and
  predicts, each only when missing, and refuses an undertrained network (`WorkflowError`);
- `server_app(paths)` and `serve(app, paths)` put the study online; `run_demo(options, participants)`
  writes the report on simulated participants;
- `simulate_study(set_dir, database, participants=..., secret_key=...)` sends simulated participants
  through the real study server (own database, every row `simulated=true`) and returns their export.

`python -m workflow run|demo` (workflow.cli) parses options and calls these.
"""

from workflow.simulate import simulate_study
from workflow.study import (
    Paths,
    StudyOptions,
    WorkflowError,
    prepare_study,
    run_demo,
    serve,
    server_app,
)

__all__ = [
    "Paths",
    "StudyOptions",
    "WorkflowError",
    "prepare_study",
    "run_demo",
    "serve",
    "server_app",
    "simulate_study",
]
