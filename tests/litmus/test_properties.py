"""The litmus front end as properties over random C litmus tests.

Random tests of two or three threads (``WRITE_ONCE``, ``READ_ONCE``,
``xchg``, ``cmpxchg``, the fences) and a random ``exists`` clause:

- herd7's output format is a contract: what pinlab prints parses back
  (``parse_herd7``) to the same verdict;
- sc is stronger than the LKMM: its final states are among the LKMM's;
- ``--speedcheck true`` settles the condition (is it ever satisfied?) as the
  full run does;
- bad input: any test cut short, or with a character changed, gives a
  verdict or a ``file:line:col`` error, never another exception.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinlab.litmus.errors import LitmusError
from pinlab.litmus.run import run_file
from pinlab.litmus.verdict import parse_herd7
from pinlab.report.herd7 import render

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
LOCS = ("x", "y")


@st.composite
def _statement(draw: st.DrawFn, reg: str) -> str:
    loc = draw(st.sampled_from(LOCS))
    v = draw(st.integers(1, 2))
    kind = draw(st.sampled_from(["w", "r", "r", "xchg", "cmpxchg", "fence"]))
    if kind == "w":
        return f"WRITE_ONCE(*{loc}, {v});"
    if kind == "r":
        return f"{reg} = READ_ONCE(*{loc});"
    if kind == "xchg":
        return f"{reg} = xchg({loc}, {v});"
    if kind == "cmpxchg":
        return f"{reg} = cmpxchg({loc}, {draw(st.integers(0, 1))}, {v});"
    return draw(st.sampled_from(["smp_mb();", "smp_rmb();", "smp_wmb();"]))


@st.composite
def litmus_tests(draw: st.DrawFn) -> str:
    procs = []
    conds = []
    for p in range(draw(st.integers(2, 3))):
        n = draw(st.integers(1, 3))
        regs = [f"r{j}" for j in range(n)]
        body = [draw(_statement(reg)) for reg in regs]
        decl = "".join(f"\tint {r};\n" for r in regs)
        args = ", ".join(f"int *{loc}" for loc in LOCS)
        code = "".join(f"\t{s}\n" for s in body)
        procs.append(f"P{p}({args})\n{{\n{decl}\n{code}}}\n")
        used = [r for r, s in zip(regs, body, strict=True) if s.startswith(r + " ")]
        if used:
            conds.append(f"{p}:{draw(st.sampled_from(used))}={draw(st.integers(0, 2))}")
    conds.append(f"{draw(st.sampled_from(LOCS))}={draw(st.integers(0, 2))}")
    exists = " /\\ ".join(draw(st.lists(st.sampled_from(conds), min_size=1, max_size=2)))
    return "C random\n\n{}\n\n" + "\n".join(procs) + f"\nexists ({exists})\n"


def _run(tmp_path: Path, text: str, name: str = "t.litmus", **kw: object) -> object:
    path = tmp_path / name
    path.write_text(text)
    return run_file(path, **kw)  # type: ignore[arg-type]


@SETTINGS
@given(text=litmus_tests())
def test_the_herd7_output_parses_back(tmp_path: Path, text: str) -> None:
    run = _run(tmp_path, text)
    assert run.error is None, (run.error, text)  # type: ignore[attr-defined]
    v = run.verdict  # type: ignore[attr-defined]
    (back,) = parse_herd7(render(v))
    assert (back.observation, back.positive, back.negative) == (
        v.observation,
        v.positive,
        v.negative,
    )
    assert back.states == v.states and back.flags == v.flags


@SETTINGS
@given(text=litmus_tests())
def test_sc_states_are_among_lkmms(tmp_path: Path, text: str) -> None:
    sc = _run(tmp_path, text, model="sc").verdict  # type: ignore[attr-defined]
    lkmm = _run(tmp_path, text, model="lkmm").verdict  # type: ignore[attr-defined]
    assert set(sc.states) <= set(lkmm.states), text
    if sc.positive:
        assert lkmm.positive, text


@SETTINGS
@given(text=litmus_tests())
def test_speedcheck_settles_the_condition_as_the_full_run(tmp_path: Path, text: str) -> None:
    full = _run(tmp_path, text).verdict  # type: ignore[attr-defined]
    quick = _run(tmp_path, text, speedcheck="true").verdict  # type: ignore[attr-defined]
    # (an exists clause is settled by one witness: Always and Sometimes alike
    # say "some execution satisfies it")
    assert (quick.observation == "Never") == (full.observation == "Never"), text


@SETTINGS
@given(text=litmus_tests(), data=st.data())
def test_damaged_tests_give_a_verdict_or_a_located_error(
    tmp_path: Path, text: str, data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(text) - 1))
    damaged = data.draw(
        st.sampled_from(
            [text[:i], text[:i] + data.draw(st.sampled_from("{}();*=/\\x9 ")) + text[i + 1 :]]
        )
    )
    run = _run(tmp_path, damaged)
    err = run.error  # type: ignore[attr-defined]
    if err is not None:
        assert isinstance(err, LitmusError)
        assert err.line >= 0 and err.col >= 0
        assert str(err).startswith(str(tmp_path / "t.litmus"))
    else:
        assert run.verdict is not None  # type: ignore[attr-defined]
