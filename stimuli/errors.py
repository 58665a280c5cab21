"""Errors the stimuli package raises for user-facing problems (clear one-line messages, no tracebacks)."""

from __future__ import annotations


class DataSourceError(RuntimeError):
    """A data set is missing or malformed; the message says where we looked and what layout we expect."""


class StimulusSetError(RuntimeError):
    """A stimulus set directory is missing, incomplete or tampered with."""
