"""pinlab export: a scenario's race as a litmus test whose verdict (under the
scenario's model) is the scenario's, for the racy variant and, on its own code,
the fixed one: races with a weak cycle, and interleavings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pinlab.cli import app
from pinlab.engine import decide
from pinlab.litmus.lower import lower
from pinlab.litmus.parse import parse_text
from pinlab.scenarios import catalogue, select
from pinlab.scenarios.export import ExportError, export
from pinlab.scenarios.replay import select_one
from tests.litmus.litmus_data import SHARED

REPO = Path(__file__).resolve().parents[2]
EXPORTED = REPO / "docs" / "litmus" / "exported"

# (family, the racy variant, the fixed one): the races with a weak cycle.
PAIRS = [
    ("fork-vs-pin-fast", "current", "current+mb"),
    ("gup-fast-vs-try-share-anon", "v5.19", "v6.1"),
    ("ptep-get-lockless-split", "fault-no-wmb", "fault"),
    ("lazyfree-vs-gup-fast", "current-no-mb", "current"),
    ("ksm-wrprotect-vs-gup-fast", "current-arm64-no-dsb", "current-arm64"),
]
# (fork's paths are long: 166 executions to show current+mb has no race)
SLOW = {("fork-vs-pin-fast", "current"), ("fork-vs-pin-fast", "current+mb")}
# Races sequential consistency allows, (family, racy, fixed, model): the seed
# races of 2018, 2020, 2021 and 2024.  A fixed variant of None: the fix
# changes what the code decides on the values it reads (its logic), so the
# racy path cannot run on the fixed code whatever its reads see.
INTERLEAVINGS = [
    ("put-user-page-writeback", "none", "bias", "lkmm"),
    ("fork-vs-pin-fast", "v5.9", "v5.11", "sc"),
    ("device-exclusive-fork", "copy-entry", "current-locked", "lkmm"),
    ("gup-fast-pte-recheck-norecency", "recency-pte_same", "recency-norecency", "lkmm"),
]
LOGIC_FIXES = {
    ("put-user-page-writeback", "bias"),
    ("gup-fast-pte-recheck-norecency", "recency-norecency"),
}


def _observation(text: str, model: str = "lkmm") -> tuple[str, int, int]:
    result = decide(lower(parse_text(text)).program, model, engine="explore")
    return result.observation, result.positive, result.negative


@pytest.mark.parametrize(
    ("name", "variant"),
    [
        pytest.param(n, v, marks=[pytest.mark.slow] if (n, v) in SLOW else [], id=f"{n}[{v}]")
        for n, racy, fixed in PAIRS
        for v in (racy, fixed)
    ],
)
def test_the_exported_test_gives_the_scenarios_verdict(name: str, variant: str) -> None:
    scenario = select_one(name, variant, "lkmm")
    exported = export(scenario, catalogue())
    expected = "Sometimes" if scenario.expected.value == "reachable" else "Never"
    assert _observation(exported.text)[0] == expected, exported.text
    assert f"Expected under lkmm: {expected}" in exported.text
    if scenario.expected.value == "never":  # the racy variant's path, on the fixed code
        assert exported.path_from.expected.value == "reachable"


@pytest.mark.parametrize(
    ("name", "variant", "model"),
    [(n, v, m) for n, racy, fixed, m in INTERLEAVINGS for v in (racy, fixed)],
    ids=lambda x: str(x),
)
def test_an_interleaving_exports_its_shared_accesses(name: str, variant: str, model: str) -> None:
    scenario = select_one(name, variant, model)
    if (name, variant) in LOGIC_FIXES:
        with pytest.raises(ExportError, match="changes what the code does with the values"):
            export(scenario, catalogue())
        return
    exported = export(scenario, catalogue())
    expected = "Sometimes" if scenario.expected.value == "reachable" else "Never"
    assert "The race is an interleaving" in exported.text
    assert _observation(exported.text, model)[0] == expected, exported.text
    if model == "sc":  # sequential consistency allows the racy one, so every model does
        assert expected == "Never" or _observation(exported.text)[0] == "Sometimes"


def test_the_fixed_fork_path_is_an_lkmm_question() -> None:
    """v5.11's write_protect_seq closes the 2020 race under sc; the same path
    under the LKMM is docs/findings.md §1's race (reachable)."""
    exported = export(select_one("fork-vs-pin-fast", "v5.11", "sc"), catalogue())
    assert exported.path_from.variant == "v5.9"
    assert _observation(exported.text, "sc")[0] == "Never"
    assert _observation(exported.text, "lkmm")[0] == "Sometimes"


def test_a_fixed_variant_with_no_racy_sibling() -> None:
    scenario = select(["zap-vs-pin-fast"], "current", "lkmm")[0]
    with pytest.raises(ExportError, match="has no counterexample"):
        export(scenario, catalogue())


def test_export_on_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "race.litmus"
    args = ["export", "gup-fast-vs-try-share-anon", "--era", "v5.19", "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    litmus = CliRunner().invoke(app, ["litmus", str(out)])
    assert "Observation gup-fast-vs-try-share-anon-v5.19 Sometimes 1 3" in litmus.stdout
    bad = CliRunner().invoke(app, ["export", "put-user-page-writeback", "--era", "bias"])
    assert bad.exit_code == 2 and "not the order of its accesses" in bad.stderr


# docs/litmus/exported: the exported tests, with the verdict each gives.
FILES = sorted(EXPORTED.glob("*.litmus"))


def test_the_docs_hold_the_exported_tests() -> None:
    assert len(FILES) == 12


def _header(text: str) -> tuple[str, str, str, str]:
    """(family, variant, model, expected verdict) of a committed export."""
    m = re.search(r"Exported by pinlab from (\S+)\[(\S+)\]@(\w+) ", text)
    verdict = re.search(r"Expected under (\w+): (\w+)", text)
    assert m is not None and verdict is not None and verdict[1] == m[3], text[:400]
    return m[1], m[2], m[3], verdict[2]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_committed_export_gives_its_verdict(path: Path) -> None:
    _, _, model, expected = _header(path.read_text())
    assert _observation(path.read_text(), model)[0] == expected


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=[pytest.mark.slow] if "fork-vs-pin-fast-current" in p.name else [])
        for p in FILES
    ],
    ids=lambda p: p.stem,
)
def test_a_committed_export_is_what_export_writes(path: Path) -> None:
    name, variant, model, _ = _header(path.read_text())
    assert export(select_one(name, variant, model), catalogue()).text == path.read_text()


def _herd7() -> tuple[str, Path] | None:
    binary = os.environ.get("HERD7") or shutil.which("herd7")
    lkmm = Path(os.environ.get("PINLAB_LKMM", SHARED / "lkmm"))
    if binary is None or not (lkmm / "linux-kernel.cfg").is_file():
        return None
    return binary, lkmm


@pytest.mark.skipif(
    _herd7() is None,
    reason="herd7 not found: set HERD7 to its binary (and PINLAB_LKMM to the folder of "
    "linux-kernel.cfg, default $PINLAB_SHARED/lkmm)",
)
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_herd7_agrees_with_a_committed_export(path: Path) -> None:
    found = _herd7()
    assert found is not None
    binary, lkmm = found
    try:
        out = subprocess.run(
            [binary, "-conf", "linux-kernel.cfg", str(path)],
            cwd=lkmm, capture_output=True, text=True, timeout=120, check=False,
        ).stdout  # fmt: skip
    except subprocess.TimeoutExpired:  # (current-locked: not in 15 min, measured)
        pytest.skip(f"herd7 did not finish {path.name} in 120 s: nothing to compare")
    expected = _observation(path.read_text())[0]  # (pinlab's lkmm verdict)
    assert f"Observation {path.stem} {expected}" in out, out


def test_export_stops_at_its_time_limit() -> None:
    """The fixed fork variant needs 166 executions to show it has no race: a
    limit of 0.5 s stops the search, says so, and exits 1 (no verdict)."""
    args = ["export", "fork-vs-pin-fast", "--era", "current+mb", "--time-limit", "0.5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "stopped by" in result.stderr and "time" in result.stderr
