"""The one interface every recruiter implements (plain link, Prolific, MTurk).

The participant blueprint only talks to this interface, so adding a recruitment platform never
touches the trial flow.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal


class BadEntry(ValueError):
    """The entry URL is malformed (missing or invalid recruiter parameters): a 400 for the participant."""


class EntryRefused(Exception):
    """The person may not take part (e.g. a repeat worker); the message is shown to them politely."""


@dataclass(frozen=True)
class Entry:
    """What a recruiter read from the entry URL's query string."""

    external_id: str | None
    """The platform's person id: MTurk workerId, PROLIFIC_PID, or the plain link's optional label."""
    data: dict[str, str] = field(default_factory=dict)
    """Platform extras kept with the participant: assignmentId, hitId, turkSubmitTo, STUDY_ID, SESSION_ID."""
    preview: bool = False
    """True for an MTurk preview (assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE): show the advert, no writes."""


@dataclass(frozen=True)
class Finish:
    """How the debrief page hands the participant back to the platform."""

    kind: Literal["code", "redirect", "post_form"]
    code: str
    url: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


class Recruiter(ABC):
    """A way people arrive at a study and leave it again."""

    name: ClassVar[str]
    session_param: ClassVar[str | None] = None
    """The entry parameter naming the person's session on the platform, which only they are given: an
    entry carrying the stored value is theirs, from any browser (participant.entry)."""
    new_session_replaces: ClassVar[bool] = False
    """Whether a returning person's new platform session replaces the stored one (MTurk: a re-accepted
    HIT is the live assignment); otherwise it is recorded as a further attempt and the first is kept."""

    @abstractmethod
    def parse_entry(self, study: Any, args: Mapping[str, str]) -> Entry:
        """Validate the entry query parameters; raise BadEntry when they are wrong."""

    def admit(self, session: Any, study: Any, entry: Entry) -> None:  # noqa: B027 - optional hook
        """Refuse people who may not take part (raise EntryRefused). Default: everyone may."""

    def on_start(self, session: Any, participant: Any) -> None:  # noqa: B027 - optional hook
        """Hook run once when a participant is created (e.g. grant an exclusion qualification)."""

    @abstractmethod
    def finish(self, study: Any, participant: Any, *, screened_out: bool) -> Finish:
        """Where the debrief sends the participant, with the right completion code."""


_REGISTRY: dict[str, Callable[[], Recruiter]] = {}


def register_recruiter(name: str) -> Callable[[type[Recruiter]], type[Recruiter]]:
    """Class decorator: make a recruiter available under `name`."""

    def wrap(cls: type[Recruiter]) -> type[Recruiter]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def get_recruiter(name: str) -> Recruiter:
    """Look up a recruiter by name; unknown names give a clear error."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown recruiter {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None
    return factory()


def list_recruiters() -> list[str]:
    return sorted(_REGISTRY)
