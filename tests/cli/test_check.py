"""``pinlab check``: the table, --json records and exit codes (fork-vs-pin-fast, under sc)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from pinlab.cli import app
from pinlab.scenarios import Expect, Scenario, catalogue, fork_pin, select
from pinlab.scenarios.replay import select_one

RUNNER = CliRunner()
FIELDS = {
    "name",
    "era",
    "variant",
    "model",
    "verdict",
    "expected",
    "executions",
    "seconds",
    "cached",
}


def test_table_old_era_reachable() -> None:
    result = RUNNER.invoke(app, ["check", "fork-vs-pin-fast", "--era", "v5.8", "--model", "sc"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "fork-vs-pin-fast" in line)
    assert row.split()[:5] == ["fork-vs-pin-fast", "v5.8", "sc", "reachable", "reachable"]
    assert "1 scenario in" in result.stdout and "all as expected" in result.stdout


@pytest.mark.parametrize(("era", "verdict"), [("v5.8", "reachable"), ("v5.11", "never")])
def test_json_records(era: str, verdict: str) -> None:
    result = RUNNER.invoke(
        app, ["check", "fork-vs-pin-fast", "--era", era, "--model", "sc", "--json"]
    )
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    record = json.loads(line)
    assert set(record) == FIELDS
    assert record["name"] == "fork-vs-pin-fast"
    assert (record["era"], record["model"]) == (era, "sc")
    assert record["verdict"] == record["expected"] == verdict
    assert record["executions"] > 0 and isinstance(record["seconds"], float)


def test_unexpected_verdict_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = tuple(
        dataclasses.replace(s, expected=Expect.NEVER) if s.variant == "v5.8" else s
        for s in fork_pin.SCENARIOS
    )
    monkeypatch.setattr(fork_pin, "SCENARIOS", wrong)
    result = RUNNER.invoke(
        app, ["check", "fork-vs-pin-fast", "--era", "v5.8", "--model", "sc", "--json"]
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["verdict"] == "reachable"
    assert result.stderr == "fork-vs-pin-fast[v5.8]@sc: reachable, expected never\n"


def test_inconclusive_says_which_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    result = RUNNER.invoke(app, ["check", "fork-vs-pin-fast", "--era", "v5.11",
                                 "--time-limit", "1e-9"])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "inconclusive (the time limit)" in result.stdout
    assert "inconclusive: stopped by the time limit" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "no-such-race"], "no scenario 'no-such-race'"),
        (["check", "--era", "v9.9"], "unknown era or variant 'v9.9'"),
        (["check", "--model", "tso"], "unknown memory model 'tso'"),
        (["explain", "no-such-race"], "no scenario 'no-such-race'"),
        (["explain", "fork-vs-pin-fast"], "variants (v5.8"),
        (["explain", "fork-vs-pin-fast", "--era", "v4.20"], "no scenario of era 'v4.20'"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], message: str) -> None:
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.output


@pytest.mark.parametrize("scenario", catalogue(), ids=lambda s: s.key)
def test_every_catalogue_variant_is_accepted(scenario: Scenario) -> None:
    """What check and explain (and so replay) resolve ``--era VARIANT`` to."""
    assert scenario in select([scenario.name], scenario.variant, scenario.model)
    assert select_one(scenario.name, scenario.variant, scenario.model) is scenario


def test_a_what_if_variant_runs_by_its_name() -> None:
    args = ["check", "fork-vs-pin-fast", "--era", "current+after-spinlock", "--model", "lkmm"]
    result = RUNNER.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in result.output.splitlines()]
    assert (record["variant"], record["verdict"]) == ("current+after-spinlock", "never")


@pytest.mark.parametrize("limit", ["0", "-1", "nan", "inf"])
@pytest.mark.parametrize(
    "command",
    [
        ["check", "zap-vs-pin-fast", "--model", "sc"],
        ["explain", "zap-vs-pin-fast", "--model", "sc", "--era", "current"],
    ],
    ids=["check", "explain"],
)
def test_nonsense_time_limits_are_refused(command: list[str], limit: str) -> None:
    result = RUNNER.invoke(app, [*command, f"--time-limit={limit}"])
    assert result.exit_code == 2
    assert "--time-limit must be a positive number of seconds" in result.stderr
