"""docs/findings.md stays true: its barrier table is re-measured here.

Each row of the table in section 2 is explored again (lkmm, v6.1 with the
named barrier removed, on the named architecture) and must give the verdict
the document states.  The scenario's own verdicts are pinned in
test_catalogue.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pinlab.engine.explore import Limits
from pinlab.kernel.arch import arch_by_name
from pinlab.kernel.eras import era_by_name
from pinlab.scenarios.base import Expect, Scenario
from pinlab.scenarios.gup_fast_share import BARRIERS_088B8AA537C2, build

FINDINGS = Path(__file__).resolve().parents[2] / "docs" / "findings.md"
ROW = re.compile(r"^\| (x86|arm64) \| (\S+) \| (never|reachable) \|$")


def _rows() -> list[tuple[str, str, str]]:
    return [m.groups() for line in FINDINGS.read_text().splitlines() if (m := ROW.match(line))]  # type: ignore[misc]


def test_the_table_covers_every_barrier_on_both_arches() -> None:
    rows = _rows()
    assert sorted((a, b) for a, b, _ in rows) == sorted(
        (a, b) for a in ("arm64", "x86") for b in BARRIERS_088B8AA537C2
    )


@pytest.mark.slow
@pytest.mark.parametrize("row", _rows(), ids=lambda r: f"{r[0]}-{r[1]}")
def test_barrier_table_row(row: tuple[str, str, str]) -> None:
    arch_name, barrier, verdict = row
    arch = arch_by_name(arch_name)
    era = era_by_name("v6.1").without(barrier)
    scenario = Scenario(
        "gup-fast-vs-try-share-anon", f"v6.1-no-{barrier}", "", "", era, "lkmm",
        Expect(verdict), "", build=lambda e: build(e, arch),
    )  # fmt: skip
    result = scenario.run(Limits(stop_at_witness=True))
    assert result.verdict.value == verdict


# Section 1: each row of its table is a catalogue scenario with that expectation.
FORK_ROW = re.compile(r"^\| `([\w.+-]+)` \| [^|]+ \| \**(never|reachable)\** \| [^|]+ \|$")


def _fork_rows() -> list[tuple[str, str]]:
    lines = FINDINGS.read_text().splitlines()
    return [m.groups() for line in lines if (m := FORK_ROW.match(line))]  # type: ignore[misc]


def test_section_1_table_is_the_catalogue() -> None:
    from pinlab.scenarios import select

    rows = _fork_rows()
    assert len(rows) == 6
    for variant, verdict in rows:
        chosen = select(["fork-vs-pin-fast"], variant, "lkmm")
        (scenario,) = [s for s in chosen if s.variant == variant]
        assert scenario.expected.value == verdict, variant


@pytest.mark.parametrize(
    ("name", "observation"),
    [("fork-flag-set-folio-get", "Never"), ("fork-large-folio-pincount", "Sometimes")],
)
def test_section_1_litmus_shapes(name: str, observation: str) -> None:
    from pinlab.litmus.run import run_file

    path = FINDINGS.parent / "litmus" / f"{name}.litmus"
    assert f"`docs/litmus/{name}.litmus` ({observation})" in FINDINGS.read_text()
    run = run_file(path, "lkmm")
    assert run.verdict is not None
    assert run.verdict.observation == observation
