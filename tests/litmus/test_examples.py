"""The project's own litmus examples (examples/litmus/): herd7's verdicts and counts,
their Result: lines, and every `pinlab litmus` command of the README as written."""

from __future__ import annotations

import csv
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pinlab.cli import app
from pinlab.litmus.run import run_file

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "litmus"
with (EXAMPLES / "expected.tsv").open(newline="") as f:
    EXPECTED = {row["test"]: row for row in csv.DictReader(f, delimiter="\t")}


def test_every_example_has_herd7s_verdict() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.litmus")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_as_herd7(name: str) -> None:
    run = run_file(EXAMPLES / f"{name}.litmus", "lkmm")
    v = run.verdict
    assert v is not None
    want = EXPECTED[name]
    assert (v.observation, v.positive, v.negative) == (
        want["observation"],
        int(want["positive"]),
        int(want["negative"]),
    )
    judgement = run.judgement()
    assert judgement is not None and judgement.passed


def _readme_litmus_commands() -> list[list[str]]:
    out = []
    for line in (REPO / "README.md").read_text().splitlines():
        words = line.strip().split("#")[0].strip()
        if words.startswith("pinlab litmus "):
            out.append(shlex.split(words)[1:])
    return out


@pytest.mark.parametrize("args", _readme_litmus_commands(), ids=" ".join)
def test_the_readme_litmus_commands_run_as_written(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    argv = []  # (the shell's glob, as README's reader's shell would expand it)
    for a in args:
        matches = sorted(REPO.glob(a)) if "*" in a else []
        argv += [str(m.relative_to(REPO)) for m in matches] if matches else [a]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, (argv, result.output)
    assert "Observation" in result.output or '"observation"' in result.output
