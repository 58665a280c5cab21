"""Shared fixtures: RNG hygiene, and access to the real services the test command starts."""

from __future__ import annotations

import os
import random
import shutil

import numpy as np
import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return None
    return torch


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    torch = _torch()
    has_cuda = bool(torch is not None and torch.cuda.is_available())
    skip_cuda = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "needs_cuda" in item.keywords and not has_cuda:
            item.add_marker(skip_cuda)


@pytest.fixture(autouse=True)
def _restore_rng_state():
    """Tests may seed global RNGs; restore them so test order never matters."""
    py_state = random.getstate()
    np_state = np.random.get_state()
    torch = _torch()
    t_state = torch.random.get_rng_state() if torch is not None else None
    yield
    random.setstate(py_state)
    np.random.set_state(np_state)
    if torch is not None and t_state is not None:
        torch.random.set_rng_state(t_state)


def require_service(what: str, available: bool, how: str) -> None:
    """Skip locally when a real service is absent; in CI its absence is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but unavailable: {how}")
    pytest.skip(f"{what} unavailable: {how}")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the real PostgreSQL database that test.sh starts (STUDY_TEST_POSTGRES_URL)."""
    url = os.environ.get("STUDY_TEST_POSTGRES_URL", "")
    require_service("PostgreSQL", bool(url), "run the suite through ./test.sh, which starts it")
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of Debian's chromium, which Playwright drives (never a downloaded browser)."""
    path = os.environ.get("STUDY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    require_service("chromium", os.path.exists(path), "apt-get install chromium (./test.sh does it as root)")
    return path


CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    """One real headless Chromium for the session, launched through Playwright."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def artifact_dir() -> str:
    """Where tests leave things for a person to look at (screenshots, reports)."""
    path = os.path.join(os.path.dirname(__file__), "..", "artifacts", "test-run")
    os.makedirs(path, exist_ok=True)
    return os.path.abspath(path)
