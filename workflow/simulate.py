"""Run simulated participants through the real study server, into a database of their own.

Every simulated participant enters by the study link, consents, starts and answers each trial through
the same routes and JSON API that a browser uses (Flask's test client), so the demo data exercise list
assignment, counterbalancing and response storage for real. They are flagged ``simulated`` the moment
they are created. The database is a separate SQLite file that holds nothing else, so simulated rows
can never be mixed into a real study's database by accident.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select
from tqdm import tqdm

from stimuli import load_stimulus_set
from study_server import create_app, import_study, prepare_database, responses_frame
from study_server.models import Participant, db
from workflow.observer import ObserverModel, answer, item_difficulties


class SimulationError(RuntimeError):
    """A step of the simulated study did not behave as a real participant's would."""


def simulate_study(
    stimulus_dir: Path,
    database_path: Path,
    *,
    participants: int,
    slug: str = "simulated-demo",
    seed: int = 0,
    secret_key: str,
    model: ObserverModel | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Simulate `participants` people on a fresh database; return their responses export."""
    if participants < 1:
        raise ValueError("participants must be at least 1")
    model = model or ObserverModel()
    sset = load_stimulus_set(stimulus_dir)
    manifest = sset.manifest.set_index("stimulus_id")
    n_classes = len(sset.classes)
    difficulty = item_difficulties(manifest["source_id"].astype(str).tolist(), model, seed)

    database_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database_path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{database_path.resolve()}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": secret_key, "WTF_CSRF_ENABLED": False})
    prepare_database(app)
    import_study(app, stimulus_dir, slug=slug, settings={"demo": True})  # nobody real is asked to consent

    rng = np.random.default_rng(seed)
    bar = tqdm(range(participants), desc="simulated participants", unit="participant", disable=not progress)
    for _ in bar:
        client = app.test_client()
        page = client.post(f"/s/{slug}/", data={"agree": "yes"})  # consent creates the participant
        public_id = page.headers.get("Location", "").split("/p/")[-1].split("/")[0]
        if page.status_code != 302 or not public_id:
            raise SimulationError(f"the study link answered {page.status_code}")
        with app.app_context():
            p = db.session.scalars(select(Participant).where(Participant.public_id == public_id)).one()
            p.simulated = True
            db.session.commit()
            order = list(p.trial_order)
        # the calibration as a person makes it (a 340 px card: about 4 px/mm; the blind spot 540 px
        # away: about 57 cm; the page redirects away when the study calibrates nothing), then the
        # trials, which start only once it is stored
        card = {"card_px": "340", "blindspot_px": "540"}
        steps = ((f"/p/{public_id}/calibrate", card), (f"/p/{public_id}/start", None))
        for path, form in steps:
            r = client.post(path, data=form)
            if r.status_code not in (200, 302):
                raise SimulationError(f"{path} answered {r.status_code}")
        if not r.headers.get("Location", "").endswith("/trials"):
            raise SimulationError(f"the trials did not start (sent to {r.headers.get('Location')})")
        ability = float(rng.normal(0.0, model.ability_sd))
        for index, stimulus_id in enumerate(order):
            row = manifest.loc[stimulus_id]
            response, rt = answer(
                label=int(row["label"]),
                condition=str(row["condition"]),
                catch=str(row["catch"]).lower() == "true",
                n_classes=n_classes,
                ability=ability,
                difficulty=difficulty[str(row["source_id"])],
                model=model,
                rng=rng,
            )
            r = client.post(
                f"/api/p/{public_id}/responses",
                json={"trial_index": index, "response": response, "rt_ms": rt, "stimulus_id": stimulus_id},
            )
            if r.status_code == 409:  # screened out by catch trials, as a real person would be
                break
            if r.status_code not in (200, 201):
                detail = r.get_data(as_text=True)
                raise SimulationError(f"response {index} answered {r.status_code}: {detail}")
    frame = responses_frame(url, slug, secret_key=secret_key)
    if not frame["simulated"].all():
        raise SimulationError("an exported row is not flagged simulated")
    return frame
