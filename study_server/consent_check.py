"""Whether a study may open to participants: a real study needs a researcher to contact and its ethics
approval (or the researcher's explicit statement that it needs none) on the consent page, so the page
can go to an ethics board as it is. A demo opens without them, and its consent page says it is a demo.
"""

from __future__ import annotations

from study_server.models import Study
from study_server.settings import effective

NOT_OPEN = (
    "The researchers have not finished setting up this study yet, so it cannot start. Please try again "
    "later; if you were sent here by a recruiting platform, you may return the study there."
)


def consent_details_missing(study: Study) -> list[str]:
    """The settings the researcher must still set before the study opens (empty: it may open)."""
    settings = effective(study.config)
    if settings["demo"]:
        return []
    missing = []
    if not str(settings["researcher_contact"]).strip():
        missing.append("researcher_contact")
    if not str(settings["ethics_approval"]).strip() and not settings["ethics_not_required"]:
        missing.append("ethics_approval (or ethics_not_required=true)")
    return missing
