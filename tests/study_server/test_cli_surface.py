"""Every command and option of the server's command lines keeps its name, and `--help` works for each.

COMMANDS is the surface of the argparse parsers before the commands became click functions (commit
f772877: `build_parser()` of study_server.cli and study_server.recruiters.cli, walked by a script).
A trailing `*` marks a required option; an upper-case name is a positional argument.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from study_server import create_app

from .conftest import SECRET

SERVER = {
    "init-db": [],
    "import-stimuli": ["STIMULUS_DIR", "--slug*", "--name", "--recruiter", "--set"],
    "create-study": ["STIMULUS_DIR", "--slug*", "--name", "--recruiter", "--set"],
    "list-studies": [],
    "create-admin": ["USERNAME"],
    "mark-abandoned": ["--study*", "--hours"],
    "allow-resume": ["EXTERNAL_ID", "--study*", "--hours"],  # issue 24
    "export": ["--study", "--out*"],
}
RECRUITERS = {
    "mturk create-qualification": ["--study*", "--live"],
    "mturk create-hit": ["--study*", "--live", "--dry-run", "--url*", "--batch*"],
    "mturk list-hits": ["--study*"],
    "mturk assignments": ["--study*", "--live"],
    "mturk approve": ["--study*", "--live", "--dry-run", "--assignment", "--all-submitted", "--feedback"],
    "mturk reject": ["--study*", "--live", "--dry-run", "--assignment*", "--feedback*"],
    "mturk bonus": ["--study*", "--live", "--dry-run", "--assignment*", "--amount*", "--reason*"],
    "mturk expire": ["--study*", "--live", "--dry-run", "--hit"],
    "mturk sync-qualifications": ["--study*", "--live"],
    "mturk ledger": ["--study*"],
    "prolific create-study": ["--study*", "--url*", "--dry-run"],
    "prolific publish": ["--study*", "--dry-run", "--yes"],
    "prolific submissions": ["--study*"],
    "prolific review": ["--study*", "--dry-run", "--yes"],
    "prolific approve": ["--study*", "--dry-run", "--yes", "--submission*"],
    "prolific reject": ["--study*", "--dry-run", "--yes", "--submission*", "--category*", "--message*"],
    "prolific bonus": [
        "--study*",
        "--dry-run",
        "--yes",
        "--submission",
        "--all-approved",
        "--amount*",
        "--reason*",
    ],
    "prolific resolve-bonus": ["--study*", "--ledger", "--paid", "--unpaid"],
    "prolific create-group": ["--study*", "--workspace"],
    "prolific sync-group": ["--study*"],
    "prolific ledger": ["--study*"],
}
"""`resolve-bonus --ledger` was required, and one of --paid/--unpaid: checked by the test below."""


@pytest.fixture
def app(tmp_path):
    return create_app(
        {"TESTING": True, "SECRET_KEY": SECRET, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    )


def surface(command) -> list[str]:
    """The command's parameters written as in COMMANDS (options by their long name)."""
    import click

    out = []
    for p in command.params:
        if isinstance(p, click.Argument):
            out.append(p.name.upper())
        elif isinstance(p, click.Option):
            for opt in p.opts + p.secondary_opts:
                out.append(opt + ("*" if p.required else ""))
    return [o for o in out if o != "--help"]


def lookup(group, path: str):
    import click

    command = group
    for name in path.split():
        ctx = click.Context(command)
        command = command.get_command(ctx, name)
        assert command is not None, f"command {path!r} is gone"
    return command


def check_surface(group, expected: dict[str, list[str]]) -> None:
    for path, params in expected.items():
        have = surface(lookup(group, path))
        for p in params:
            name = p.rstrip("*")
            assert name in [h.rstrip("*") for h in have], f"{path}: {name} is gone (has {have})"
            if p.endswith("*"):
                assert p in have, f"{path}: {name} is no longer required"


def test_every_server_command_keeps_its_name_and_options(app):
    check_surface(app.cli, SERVER)


def test_every_recruiter_command_keeps_its_name_and_options(app):
    check_surface(app.cli, RECRUITERS)


def test_python_m_and_flask_reach_the_same_commands(app):
    from study_server.cli import cli as server_cli
    from study_server.recruiters.cli import cli as recruiter_cli

    check_surface(server_cli, SERVER)
    check_surface(recruiter_cli, RECRUITERS)
    for path in RECRUITERS:
        assert lookup(recruiter_cli, path) is lookup(app.cli, path)
    for path in SERVER:
        assert lookup(server_cli, path) is lookup(app.cli, path)


@pytest.mark.parametrize("path", [*SERVER, *RECRUITERS])
def test_help_works_for_every_command(app, path):
    result = app.test_cli_runner().invoke(args=[*path.split(), "--help"])
    assert result.exit_code == 0, result.output
    for p in (SERVER | RECRUITERS)[path]:
        if p.startswith("--"):
            assert p.rstrip("*") in result.output


def test_help_from_python_m(app, capsys):
    from study_server.cli import run_command
    from study_server.recruiters.cli import run

    assert run_command(app, ["import-stimuli", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--set" in out and "presentation_ms" in out  # the settings are listed with the command
    assert run(app, ["prolific", "resolve-bonus", "--help"]) == 0
    assert "--unpaid" in capsys.readouterr().out


def test_resolve_bonus_needs_ledger_and_exactly_one_of_paid_unpaid(app, capsys):
    from study_server.recruiters.cli import run

    assert run(app, ["prolific", "resolve-bonus", "--study", "x", "--paid"]) == 2
    assert "--ledger" in capsys.readouterr().err
    for flags in ([], ["--paid", "--unpaid"]):
        assert run(app, ["prolific", "resolve-bonus", "--study", "x", "--ledger", "1", *flags]) == 2
        assert "--paid" in capsys.readouterr().err


def test_unknown_command_and_option_exit_2(app, capsys):
    from study_server.cli import run_command
    from study_server.recruiters.cli import run

    assert run_command(app, ["no-such-command"]) == 2
    assert "no-such-command" in capsys.readouterr().err
    assert run(app, ["mturk", "ledger", "--study", "x", "--bogus"]) == 2
    assert "--bogus" in capsys.readouterr().err


@pytest.mark.parametrize("module", ["study_server", "study_server.recruiters"])
def test_python_m_entry_points_print_help(module, tmp_path):
    env = {**os.environ, "STUDY_SECRET_KEY": SECRET, "STUDY_INSTANCE_PATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    names = SERVER if module == "study_server" else {p.split()[0]: 1 for p in RECRUITERS}
    for name in names:
        assert name in done.stdout


def test_flask_cli_errors_are_one_line_too(app):
    """`flask --app study_server CMD` runs the commands without the `python -m` group: same errors."""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["list-studies"])  # no init-db yet: no tables
    assert result.exit_code == 2
    assert result.output.startswith("error: database problem") and result.output.count("\n") == 1
    assert runner.invoke(args=["init-db"]).exit_code == 0
    for argv, message in (
        (["mark-abandoned", "--study", "nope"], "error: unknown study 'nope'\n"),
        (["mturk", "ledger", "--study", "nope"], "error: no study with slug 'nope'\n"),
        (["prolific", "ledger", "--study", "nope"], "error: no study with slug 'nope'\n"),
    ):
        result = runner.invoke(args=argv)
        assert (result.exit_code, result.output) == (2, message)
