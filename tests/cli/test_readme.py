"""Every ``pinlab`` command of the README runs as written and exits as it should.

The README's litmus lines run in tests/litmus/test_examples.py, with herd7's
verdicts.  The bare ``pinlab check`` (the whole catalogue, about two minutes)
is left to tests/scenarios/test_catalogue.py, which computes the same verdicts
one by one; running it here would compute each of them twice.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pinlab.cli import app

REPO = Path(__file__).resolve().parents[2]

# Commands whose exit status is not 0, and why.
EXIT = {
    "selftest cow --era v5.9": 1,  # kselftest's own status: v5.9 fails cases by design
}
ELSEWHERE = {"check"}  # see the module docstring


def readme_commands() -> list[tuple[str, ...]]:
    """The README's indented ``pinlab ...`` lines, each ``&&`` part on its own,
    comments dropped, in order."""
    out: list[tuple[str, ...]] = []
    for line in (REPO / "README.md").read_text().splitlines():
        if not line.startswith("    pinlab "):
            continue
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            if words[:1] == ["pinlab"] and words[1:2] != ["litmus"]:
                out.append(tuple(words[1:]))
    return out


COMMANDS = readme_commands()


def test_the_readme_shows_these_commands() -> None:
    assert ("check", "--list") in COMMANDS
    assert ("check", "examples/scenarios/race.py") in COMMANDS
    assert {" ".join(c) for c in COMMANDS} >= set(EXIT) | ELSEWHERE


@pytest.mark.parametrize(
    "args",
    [c for c in COMMANDS if " ".join(c) not in ELSEWHERE],
    ids=" ".join,
)
def test_the_readme_command_runs_as_written(
    args: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    if args[0] == "replay":  # (after the explain --save of the same line)
        explain = next(c for c in COMMANDS if "--save" in c and args[1] in c)
        assert CliRunner().invoke(app, list(explain)).exit_code == 0
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == EXIT.get(" ".join(args), 0), result.output
    assert "Traceback" not in result.output
