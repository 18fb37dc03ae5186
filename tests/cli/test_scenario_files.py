"""Scenario files on the command line: check, explain, replay and barriers take
./race.py as they take a catalogue name; broken files give file:line and exit 2;
the barrier what-ifs; the results cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pinlab.cli import app
from tests.scenarios.test_scenario_files import BAD, EXPECTED

RUNNER = CliRunner()
RACE = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / "race.py"
MB = "my_unmap_unless_pinned:mb-after-clear"


@pytest.fixture
def race(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    shutil.copy(RACE, tmp_path / "race.py")
    monkeypatch.chdir(tmp_path)
    return "./race.py"


def test_check_a_file_gives_its_verdicts(race: str) -> None:
    result = RUNNER.invoke(app, ["check", race, "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    verdicts = {(r["variant"], r["model"]): r["verdict"] for r in rows}
    assert verdicts == {
        ("arm64", "sc"): "never",
        ("arm64", "lkmm"): "never",
        ("x86", "lkmm"): "never",
        ("arm64-no-mb", "sc"): "never",
        ("arm64-no-mb", "lkmm"): "reachable",
    }


def test_a_second_check_comes_from_the_cache(race: str) -> None:
    first = RUNNER.invoke(app, ["check", race, "--json"])
    second = RUNNER.invoke(app, ["check", race, "--json"])
    fresh = RUNNER.invoke(app, ["check", race, "--json", "--no-cache"])
    for run, cached in ((first, False), (second, True), (fresh, False)):
        assert run.exit_code == 0, run.output
        rows = [json.loads(line) for line in run.stdout.splitlines()]
        assert [r["cached"] for r in rows] == [cached] * 5
    table = RUNNER.invoke(app, ["check", race])
    assert "5 from the cache: pinlab check --no-cache runs them" in table.stdout


def test_the_cache_tells_a_changed_file(race: str) -> None:
    assert RUNNER.invoke(app, ["check", race]).exit_code == 0
    text = Path("race.py").read_text().replace("arm64-no-mb", "arm64-without-mb")
    Path("race.py").write_text(text)
    result = RUNNER.invoke(app, ["check", race, "--json"])
    assert all(not json.loads(line)["cached"] for line in result.stdout.splitlines())


def test_explain_save_and_replay_a_file(race: str) -> None:
    result = RUNNER.invoke(
        app, ["explain", race, "--era", "arm64-no-mb", "--model", "lkmm", "--save", "cex.json"]
    )
    assert result.exit_code == 0, result.output
    assert "my_unmap_unless_pinned" in result.stdout
    saved = json.loads(Path("cex.json").read_text())
    assert saved["origin"] == str(Path("race.py").resolve())
    replayed = RUNNER.invoke(app, ["replay", "cex.json"])
    assert replayed.exit_code == 0, replayed.output
    assert "replayed from cex.json" in replayed.stdout


def test_replay_refuses_a_changed_scenario_file(race: str) -> None:
    args = ["explain", race, "--era", "arm64-no-mb", "--model", "lkmm", "--save", "cex.json"]
    assert RUNNER.invoke(app, args).exit_code == 0
    Path("race.py").write_text(Path("race.py").read_text() + "\n# edited\n")
    result = RUNNER.invoke(app, ["replay", "cex.json"])
    assert result.exit_code == 2
    assert "scenario file changed" in result.stderr


def test_without_a_barrier_and_replay_of_it(race: str) -> None:
    check = RUNNER.invoke(
        app, ["check", race, "--era", "arm64", "--model", "lkmm", "--without", MB, "--json"]
    )
    assert check.exit_code == 0, check.output
    [row] = [json.loads(line) for line in check.stdout.splitlines()]
    assert (row["verdict"], row["expected"]) == ("reachable", None)
    explain = RUNNER.invoke(
        app,
        ["explain", race, "--era", "arm64", "--model", "lkmm", "--without", MB,
         "--save", "cex.json"],
    )  # fmt: skip
    assert explain.exit_code == 0, explain.output
    assert json.loads(Path("cex.json").read_text())["without"] == [MB]
    assert RUNNER.invoke(app, ["replay", "cex.json"]).exit_code == 0


@pytest.mark.slow
def test_with_adds_a_what_if_barrier() -> None:
    """fork-vs-pin-fast[current]@lkmm is reachable; with the candidate fix, never."""
    result = RUNNER.invoke(
        app,
        ["explain", "fork-vs-pin-fast", "--era", "current", "--model", "lkmm",
         "--with", "copy_page_range:seq-begin-mb"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "[current+copy_page_range:seq-begin-mb] under lkmm: never" in result.stdout
    assert "No consistent execution shows the forbidden outcome" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--without", "no-such-barrier"], "no barrier 'no-such-barrier'"),
        (["--without", "gup_fast:seq-begin-rmbb"], "did you mean gup_fast:seq-begin-rmb"),
        (["--with", "gup_fast:seq-begin-rmb"], "is in the kernel already"),
        (["--without", "copy_page_range:seq-begin-mb"], "is a what-if barrier"),
    ],
)
def test_barrier_names_are_checked(args: list[str], message: str) -> None:
    result = RUNNER.invoke(app, ["check", "fork-vs-pin-fast", "--era", "v5.11", *args])
    assert result.exit_code == 2 and message in result.stderr, result.output


def test_barriers_lists_where_each_runs(race: str) -> None:
    result = RUNNER.invoke(app, ["barriers", race, "--era", "arm64"])
    assert result.exit_code == 0, result.output
    assert f"{MB}: smp_mb" in result.stdout
    assert "in my_unmap_unless_pinned() at ./race.py:" in result.stdout
    assert "in try_grab_folio_fast() at src/pinlab/kernel/pin.py:" in result.stdout


@pytest.mark.slow
def test_each_barrier_gives_the_arm64_rows_of_findings_section_2() -> None:
    """docs/findings.md section 2: without each of the four barriers of 088b8aa537c2
    the arm64 race is reachable again."""
    result = RUNNER.invoke(
        app,
        ["check", "gup-fast-vs-try-share-anon", "--era", "v6.1", "--model", "lkmm",
         "--each-barrier", "--width", "200"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    findings = Path(__file__).resolve().parents[2] / "docs" / "findings.md"
    rows = [
        line.split("|")[2].strip()
        for line in findings.read_text().splitlines()
        if line.startswith("| arm64 | ") and line.rstrip().endswith("| reachable |")
    ]
    assert len(rows) == 4
    table = result.stdout.split("gup-fast-vs-try-share-anon[v6.1]@lkmm: without each")[1]
    table = table.split("without each barrier")[0]
    for barrier in rows:
        line = next(x for x in table.splitlines() if x.strip().startswith(barrier))
        assert " reachable " in line, line


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_broken_file_on_the_command_line(name: str, tmp_path: Path) -> None:
    shutil.copy(BAD / name, tmp_path / name)
    path = str(tmp_path / name)
    line, words = EXPECTED[name]
    result = RUNNER.invoke(app, ["check", path])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    where = f"{path}:{line}" if line else path
    assert result.stderr.startswith(f"pinlab check: {where}"), result.stderr
    assert words in result.stderr
