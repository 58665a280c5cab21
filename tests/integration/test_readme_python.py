"""The README's "From Python" block runs as written: build, train, predict, simulate people, compare."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_block(section: str) -> str:
    """The first ```python block under the README heading `section`."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {section}\n")
    block = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert block is not None, f"no python block under '## {section}'"
    return block.group(1)


@pytest.mark.slow
def test_from_python_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    code = python_block("From Python")
    exec(compile(code, "README.md (From Python)", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    # every step wrote what it promised, in the contracts' places
    assert (tmp_path / "sets/neg/manifest.csv").is_file() and (tmp_path / "models/lenet5.pt").is_file()
    assert (tmp_path / "preds.csv").is_file() and (tmp_path / "preds.networks.json").is_file()
    assert (tmp_path / "report/report.html").is_file()
    assert "validation accuracy" in out and "SIMULATED DATA" in out and "lenet5" in out
