"""Observer locations counted in product form (litmus/observers.py, engine/factor.py).

The product form must give exactly what enumerating every execution gives:
the same final states with the same counts, the same Positive/Negative and
flags.  Checked on random tests, on the paulmck lock tests it was built for,
and through ``run_file``; and which locations count as observers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pinlab.engine.explore import ExplorationResult, Limits, explore
from pinlab.engine.factor import Declined, explore_factored
from pinlab.litmus.lower import lower
from pinlab.litmus.observers import observers
from pinlab.litmus.parse import parse_text
from pinlab.litmus.run import run_file
from pinlab.report.herd7 import render
from tests.litmus.litmus_data import LITMUS, NEEDS_CORPUS

MANFRED = LITMUS / "paulmck" / "manual" / "kernel"


def _both(text: str, path: str = "t.litmus") -> tuple[ExplorationResult, ExplorationResult]:
    """(factored, enumerated) explorations of a test that has observer locations."""
    test = parse_text(text, path)
    observed = observers(test)
    assert observed is not None
    real = lower(test).program
    factored = explore_factored(lower(observed.test).program, observed.sites, real.init)
    return factored, explore(real, "lkmm")


def _same(a: ExplorationResult, b: ExplorationResult) -> None:
    assert a.outcome == b.outcome
    assert (a.states, a.positive, a.negative) == (b.states, b.positive, b.negative)
    assert a.flags == b.flags
    assert a.stats.consistent == b.stats.consistent
    assert a.stats.factored > 0


# -- random tests -----------------------------------------------------------------

SKELETON_OPS = [
    "{r} = READ_ONCE(*{x});",
    "{r} = smp_load_acquire({x});",
    "{r} = xchg_acquire({x}, {v});",
    "{r} = xchg_relaxed({x}, {v});",
    "{r} = xchg_release({x}, {v});",
    "{r} = cmpxchg_acquire({x}, 0, {v});",
    "WRITE_ONCE(*{x}, {v});",
    "smp_store_release({x}, {v});",
    "smp_rmb();",
]
OBSERVER_OPS = ["{r} = READ_ONCE(*{x});", "WRITE_ONCE(*{x}, {v});"]


@st.composite
def _tests(draw: st.DrawFn) -> str:
    nprocs = draw(st.integers(2, 3))
    procs: list[str] = []
    regs: list[str] = []
    for p in range(nprocs):
        lines: list[str] = []
        mine: list[str] = []  # skeleton registers, for if conditions
        for k in range(draw(st.integers(2, 5))):
            r = f"r{k}"
            if draw(st.booleans()):
                op = draw(st.sampled_from(OBSERVER_OPS))
                x = draw(st.sampled_from(["a", "b"]))
            else:
                op = draw(st.sampled_from(SKELETON_OPS))
                x = draw(st.sampled_from(["x", "y"]))
            stmt = op.format(r=r, x=x, v=draw(st.integers(1, 2)))
            if "{r}" in op:
                regs.append(f"{p}:{r}")
            if mine and x in ("x", "y") and draw(st.integers(0, 3)) == 0:
                stmt = f"if ({draw(st.sampled_from(mine))}) {{ {stmt} }}"
            elif "{r}" in op and x in ("x", "y"):
                mine.append(r)
            lines.append(stmt)
        decls = " ".join(f"int r{k};" for k in range(5))
        body = "\n\t".join([decls, *lines])
        procs.append(f"P{p}(int *x, int *y, int *a, int *b)\n{{\n\t{body}\n}}\n")
    atoms = draw(
        st.lists(st.sampled_from(regs), min_size=1, max_size=3, unique=True)
        if regs
        else st.just([])
    )
    prop = " /\\ ".join(f"{reg}={draw(st.integers(0, 2))}" for reg in atoms) or "x=0"
    return "C random\n\n{\n}\n\n" + "\n".join(procs) + f"\nexists ({prop})\n"


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(_tests())
def test_product_form_counts_as_enumeration(text: str) -> None:
    test = parse_text(text, "random.litmus")
    observed = observers(test)
    assume(observed is not None)
    assert observed is not None
    real = lower(test).program
    try:
        factored = explore_factored(lower(observed.test).program, observed.sites, real.init)
    except Declined:
        assume(False)
        raise
    _same(factored, explore(real, "lkmm"))


# -- the tests it was built for ----------------------------------------------------------


@NEEDS_CORPUS
@pytest.mark.parametrize("name", ["C-ManfredSpraul-L1G1xchg", "C-ManfredSpraul-L1G1xchgnr"])
def test_manfred_two_cpu_lock_tests(name: str) -> None:
    path = MANFRED / f"{name}.litmus"
    _same(*_both(path.read_text(), str(path)))


def _without_p2(text: str) -> str:
    """L1G2xchg with two CPUs: P0 and one global-lock CPU."""
    start, end = text.index("P2("), text.index("exists")
    text = text[:start] + text[end:]
    return text.replace(" \\/ 2:r2=1", "").replace(" /\\ 2:r10=0 /\\ 2:r11=0", "")


@NEEDS_CORPUS
def test_l1g2xchg_with_two_cpus() -> None:
    factored, full = _both(_without_p2((MANFRED / "C-ManfredSpraul-L1G2xchg.litmus").read_text()))
    _same(factored, full)
    assert full.negative == 296 and full.positive == 0


@NEEDS_CORPUS
def test_run_file_output_does_not_change(tmp_path: Path) -> None:
    """herd7's output is the same with and without product form (Time aside)."""
    path = tmp_path / "L1G2xchg-2cpu.litmus"
    path.write_text(_without_p2((MANFRED / "C-ManfredSpraul-L1G2xchg.litmus").read_text()))
    outputs = []
    for factor in (True, False):
        run = run_file(path, "lkmm", factor=factor)
        assert run.verdict is not None
        outputs.append([x for x in render(run.verdict).splitlines() if not x.startswith("Time")])
    assert outputs[0] == outputs[1]


# Each forbidden by an hb cycle that only one part of the product form sees.
CYCLES = {
    # prop from an observer read: fr to P1's write, rfe to P2, po-rel, rfe back
    # to P0's acquire (A-cumulativity)
    "fr-rfe-release": """C WRC+release+observer
{}
P0(int *a, int *z) { int r0; int r1; r1 = smp_load_acquire(z); r0 = READ_ONCE(*a); }
P1(int *a) { WRITE_ONCE(*a, 1); }
P2(int *a, int *z) { int r2; r2 = READ_ONCE(*a); smp_store_release(z, 1); }
exists (0:r1=1 /\\ 0:r0=0 /\\ 2:r2=1)
""",
    # a cycle through the reads-from of two observer locations, a and b
    "two-locations": """C LB-ring+observers
{}
P0(int *a, int *z) { int r0; r0 = READ_ONCE(*a); smp_store_release(z, 1); }
P1(int *b, int *z) { int r1; r1 = smp_load_acquire(z); WRITE_ONCE(*b, 1); }
P2(int *b, int *w) { int r2; r2 = READ_ONCE(*b); smp_store_release(w, 1); }
P3(int *a, int *w) { int r3; r3 = smp_load_acquire(w); WRITE_ONCE(*a, 1); }
exists (0:r0=1 /\\ 1:r1=1 /\\ 2:r2=1 /\\ 3:r3=1)
""",
    # P0's read is fr-before its own later write, (co | fr) & int, the one way
    # back to P2 (herd7: Never, 0 of 32)
    "fr-int": """C fr-int+observer
{}
P0(int *a) { int r0; r0 = READ_ONCE(*a); WRITE_ONCE(*a, 2); }
P1(int *a, int *z) { int r1; r1 = READ_ONCE(*a); smp_store_release(z, 1); }
P2(int *a, int *w) { int r2; r2 = smp_load_acquire(w); WRITE_ONCE(*a, 1); }
P3(int *z, int *w) { int r3; r3 = smp_load_acquire(z); WRITE_ONCE(*w, 1); }
exists (0:r0=1 /\\ 1:r1=2 /\\ 3:r3=1 /\\ 2:r2=1)
""",
}


@pytest.mark.parametrize("name", sorted(CYCLES))
def test_forbidden_by_one_part_of_the_product(name: str) -> None:
    factored, full = _both(CYCLES[name])
    assert full.positive == 0 and full.negative > 0
    _same(factored, full)


SB_MB = """C SB+mb+observer
{}
P0(int *x, int *y, int *a) { int r0; int r1; WRITE_ONCE(*x, 1); smp_mb(); r0 = READ_ONCE(*y);
  r1 = READ_ONCE(*a); }
P1(int *x, int *y, int *a) { int r0; WRITE_ONCE(*y, 1); smp_mb(); r0 = READ_ONCE(*x);
  WRITE_ONCE(*a, 1); }
exists (0:r0=0 /\\ 1:r0=0)
"""


def test_strong_fence_declines() -> None:
    """pb is not covered: the product form declines, and run_file enumerates."""
    test = parse_text(SB_MB, "sb.litmus")
    observed = observers(test)
    assert observed is not None
    with pytest.raises(Declined, match="strong fence"):
        explore_factored(lower(observed.test).program, observed.sites, {})


def test_declined_limits() -> None:
    test = parse_text(SB_MB, "sb.litmus")
    observed = observers(test)
    assert observed is not None
    with pytest.raises(Declined):
        explore_factored(
            lower(observed.test).program, observed.sites, {}, limits=Limits(stop_at_first=True)
        )


# -- which locations are observers ----------------------------------------------------


def _observers(body0: str, body1: str = "WRITE_ONCE(*a, 1);", cond: str = "0:r0=1") -> set[str]:
    text = (
        "C t\n{\n}\n"
        f"P0(int *a, int *x) {{ int r0; int r1; {body0} }}\n"
        f"P1(int *a, int *x) {{ int r0; {body1} }}\n"
        f"exists ({cond})\n"
    )
    observed = observers(parse_text(text, "t.litmus"))
    return set() if observed is None else {str(s.loc) for s in observed.sites.values()}


@pytest.mark.parametrize(
    ("body0", "body1", "cond", "want"),
    [
        ("r0 = READ_ONCE(*a);", "WRITE_ONCE(*a, 1);", "0:r0=1", {"a"}),
        ("r0 = READ_ONCE(*a); r1 = READ_ONCE(*x);", "WRITE_ONCE(*x, 1);", "0:r0=1", {"a", "x"}),
        # (x is one: only written, by a constant)
        ("r0 = READ_ONCE(*a); if (r0) WRITE_ONCE(*x, 1);", "WRITE_ONCE(*a, 1);", "0:r0=1", {"x"}),
        ("r0 = READ_ONCE(*a); r1 = r0;", "WRITE_ONCE(*a, 1);", "0:r0=1", set()),
        ("r0 = READ_ONCE(*a); r0 = READ_ONCE(*x);", "WRITE_ONCE(*a, 1);", "0:r0=1", set()),
        ("r0 = smp_load_acquire(a);", "WRITE_ONCE(*a, 1);", "0:r0=1", set()),
        ("r0 = READ_ONCE(*a);", "WRITE_ONCE(*a, r0);", "0:r0=1", set()),
        ("r0 = READ_ONCE(*a);", "WRITE_ONCE(*a, 1);", "a=1", set()),
        ("while (r1) r0 = READ_ONCE(*a);", "WRITE_ONCE(*a, 1);", "0:r0=1", set()),
        ("r0 = READ_ONCE(*a);", "r0 = xchg(a, 1);", "0:r0=1", set()),
    ],
)
def test_which_locations_observe(body0: str, body1: str, cond: str, want: set[str]) -> None:
    assert _observers(body0, body1, cond) == want


def test_a_pointer_to_the_location_disqualifies_it() -> None:
    text = (
        "C t\n{ int *p = a; }\n"
        "P0(int *a, int **p) { int r0; r0 = READ_ONCE(*a); }\n"
        "P1(int *a) { WRITE_ONCE(*a, 1); }\n"
        "exists (0:r0=1)\n"
    )
    assert observers(parse_text(text, "t.litmus")) is None
