"""Lowering: a litmus test becomes an engine Program whose threads yield the right operations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pinlab.engine.ops import Cutoff, Fence, FenceTag, Load, Rmw, RmwKind, Store, Tag
from pinlab.engine.primitives import PRIMITIVES
from pinlab.engine.program import CondKind, FinalState, Loc, MemVar, RegVar
from pinlab.engine.sequential import BoundReachedError, Memory, SequentialExecutor
from pinlab.engine.values import DepTracker, Val
from pinlab.litmus.errors import LitmusError
from pinlab.litmus.lower import Lowered, lower
from pinlab.litmus.parse import parse_file, parse_text
from tests.litmus.litmus_data import LITMUS, NEEDS_CORPUS, corpus, litmus_files, rel

ALL = litmus_files()
MEMB = [p for p in ALL if "/manual/memb/" in str(p)]
X, Y, Z = Loc("x"), Loc("y"), Loc("z")


def low(text: str) -> Lowered:
    return lower(parse_text(text, "t.litmus"))


def run_in_order(lowered: Lowered) -> tuple[list[Any], dict[Loc, Any]]:
    """Run the threads one after the other (P0 first) on plain memory."""
    ex = SequentialExecutor(Memory(lowered.program.init))
    regs = [ex.run(thread()) for thread in lowered.program.threads]
    return regs, ex.memory.snapshot()


def trace(lowered: Lowered, tid: int, answers: list[Any]) -> list[Any]:
    """The operations thread ``tid`` yields when its loads answer ``answers`` in turn."""
    gen = lowered.program.threads[tid]()
    ops, answer, it = [], None, iter(answers)
    try:
        while True:
            op = gen.send(answer)
            ops.append(op)
            answer = next(it) if isinstance(op, Load | Rmw) else None
    except StopIteration:
        return ops


@pytest.mark.parametrize("path", corpus(ALL), ids=rel)
def test_every_shared_test_lowers(path: Path) -> None:
    test = parse_file(path)
    if path in MEMB:
        with pytest.raises(LitmusError, match=r"unknown primitive 'smp_memb'"):
            lower(test)
    else:
        assert len(lower(test).program.threads) == len(test.processes)


@NEEDS_CORPUS
def test_smp_memb_error_names_the_place() -> None:
    assert len(MEMB) == 5
    path = LITMUS / "paulmck/manual/memb/C-memb-RCU-0.litmus"
    with pytest.raises(LitmusError) as err:
        lower(parse_file(path))
    assert str(err.value) == f"{path}:13:2: unknown primitive 'smp_memb' (not in linux-kernel.def)"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("smp_memb();", "3:14: unknown primitive 'smp_memb' (not in linux-kernel.def)"),
        ("set_bit(1, x);", "3:14: unknown primitive 'set_bit' (not in linux-kernel.def)"),
        ("READ_ONCE(*x, 1);", "3:14: READ_ONCE() takes 1 argument, 2 given"),
        ("r0 = READ_ONCE(x);", "3:29: READ_ONCE() needs an lvalue such as *x here"),
        ("r0 = &r1;", "3:19: '&' is not supported here; pass the location as a parameter"),
        ("3 = 4;", "3:14: the left side of an assignment must be a register or *pointer"),
    ],
)
def test_lowering_errors(body: str, message: str) -> None:
    text = f"C t\n{{}}\nP0(int *x) {{ {body} }}\n"
    with pytest.raises(LitmusError) as err:
        lower(parse_text(text, "t.litmus"))
    assert str(err.value) == "t.litmus:" + message


def test_processes_must_be_numbered_in_order() -> None:
    with pytest.raises(LitmusError, match=r"t.litmus:4:1: expected process P1 here, found P2"):
        lower(parse_text("C t\n{}\nP0(int *x) {}\nP2(int *x) {}\n", "t.litmus"))
    with pytest.raises(LitmusError, match=r"register 3:r0 of a missing process"):
        lower(parse_text("C t\n{}\nP0(int *x) {}\nexists (3:r0=1)\n", "t.litmus"))


def test_initial_state_registers_and_parameters() -> None:
    lw = low(
        "C t\n{ int *y = &x; z=y; atomic_t a = ATOMIC_INIT(2); int b; 1:r1=x; 0:r2=-3; }\n"
        "P0(int *x) { r0 = 1; }\nP1(int **y) { r0 = READ_ONCE(*r1); }\n"
    )
    assert lw.program.init == {Y: X, Z: Y, Loc("a"): 2, Loc("b"): 0}
    regs, _ = run_in_order(lw)
    assert regs[0] == {"r0": 1, "x": X, "r2": -3}
    assert regs[1] == {"r0": 0, "y": Y, "r1": X}
    assert lw.program.thread_names == ("P0", "P1")


def test_operations_and_their_annotations() -> None:
    lw = low(
        "C t\n{}\nP0(int *x, int *y, int *z, spinlock_t *s) {\n"
        "  int r0 = READ_ONCE(*x);\n  WRITE_ONCE(*y, r0 + 1);\n  *z = 1;\n  r1 = *z;\n"
        "  smp_mb();\n  r2 = smp_load_acquire(y);\n  r3 = xchg_relaxed(x, 5);\n"
        "  spin_lock(s);\n  *z += 2;\n}\n"
    )
    ops = trace(lw, 0, [7, 1, 8, 9, 1])
    assert ops[:7] == [
        Load(X, Tag.ONCE),
        Store(Y, 8, Tag.ONCE),
        Store(Z, 1, Tag.PLAIN),
        Load(Z, Tag.PLAIN),
        Fence(FenceTag.MB),
        Load(Y, Tag.ACQUIRE),
        Rmw(X, RmwKind.XCHG, 5, tag=Tag.ONCE),
    ]
    assert ops[8:] == [Load(Z, Tag.PLAIN), Store(Z, 3, Tag.PLAIN)]


def test_c_arithmetic() -> None:
    lw = low(
        "C t\n{}\nP0(int *x, int *y) {\n"
        "  r0 = -7 / 2; r1 = -7 % 2; r2 = 7 / -2; r3 = (1 < 2) + (2 <= 1) * 10;\n"
        "  r4 = !5; r5 = ~0; r6 = 1 << 4 | 3 ^ 1; r7 = 6 & 3; r8 = (r0 == -3) ? 11 : 12;\n"
        "  r9 = x + 0; r10 = (x + 8) - 8; r11 = (x == y); r12 = (x != y); r13 = (x > 0);\n"
        "  r14 = 0x10; r15 = 2; r15 *= 3; r15 -= 1;\n}\n"
    )
    (regs,), _ = run_in_order(lw)
    assert [regs[f"r{i}"] for i in range(16)] == [
        -3, -1, -3, 1, 0, -1, 18, 2, 11, X, X, 0, 1, 1, 16, 5,
    ]  # fmt: skip


def test_short_circuit_and_branches() -> None:
    lw = low(
        "C t\n{}\nP0(int *x, int *y) {\n"
        "  r0 = 0 && READ_ONCE(*x);\n  r1 = 1 || READ_ONCE(*x);\n"
        "  r2 = 1 && READ_ONCE(*y);\n  if (r2) r3 = 1; else r3 = 2;\n}\n"
    )
    assert trace(lw, 0, [5]) == [Load(Y, Tag.ONCE)]
    (regs,), _ = run_in_order(lw)
    assert (regs["r0"], regs["r1"], regs["r2"], regs["r3"]) == (0, 1, 0, 2)


def test_while_is_unrolled_twice_then_cut() -> None:
    lw = low("C t\n{}\nP0(int *x) {\n  while (READ_ONCE(*x) == 0) { r0 = r0 + 1; }\n}\n")
    ops = trace(lw, 0, [0, 0, 0])
    assert ops[:3] == [Load(X, Tag.ONCE)] * 3
    assert isinstance(ops[3], Cutoff) and "t.litmus:4:3" in ops[3].why
    assert trace(lw, 0, [0, 1]) == [Load(X, Tag.ONCE)] * 2
    with pytest.raises(BoundReachedError):
        run_in_order(lw)


def test_dependencies_flow_through_registers() -> None:
    lw = low(
        "C t\n{ x=y; }\nP0(int *x, int *z) {\n"
        "  r0 = READ_ONCE(*x);\n  r1 = READ_ONCE(*r0);\n  WRITE_ONCE(*z, r1 + 1);\n"
        "  if (r1 == 0) WRITE_ONCE(*z, 2);\n}\n"
    )
    tracker = DepTracker()
    gen = lw.program.threads[0]()
    load_x = gen.send(None)
    assert load_x == Load(X, Tag.ONCE)
    load_y = gen.send(Val(Y, 0b01, tracker))
    assert isinstance(load_y.loc, Val) and load_y.loc.deps == 0b01  # address dependency
    store = gen.send(Val(0, 0b10, tracker))
    assert isinstance(store.value, Val) and store.value.deps == 0b10  # data dependency
    assert store.value.value == 1
    assert tracker.ctrl == 0
    gen.send(None)
    assert tracker.ctrl == 0b10  # the if made a control dependency on r1's load


def test_runtime_errors_name_the_place() -> None:
    lw = low("C t\n{}\nP0(int *x) {\n  r0 = READ_ONCE(*x);\n  r1 = 1 / r0;\n}\n")
    with pytest.raises(LitmusError, match=r"^t.litmus:5:10: division by zero$"):
        run_in_order(lw)
    lw = low("C t\n{}\nP0(int *x) {\n  r0 = READ_ONCE(*x);\n  r1 = READ_ONCE(*r0);\n}\n")
    with pytest.raises(LitmusError, match=r"^t.litmus:5:19: the argument of READ_ONCE\(\) is not"):
        run_in_order(lw)


COND = "C t\n{}\nP0(int *x) { WRITE_ONCE(*x, 2); r1 = 1; }\nP1(int *y) { r0 = 1; }\n"


@pytest.mark.parametrize(
    ("clause", "text", "holds"),
    [
        ("exists (0:r1=1 /\\ ~x=2)", "exists (0:r1=1 /\\ not ([x]=2))", False),
        ("exists (0:r1=1 \\/ x=2 /\\ y=1)", "exists (0:r1=1 \\/ [x]=2 /\\ [y]=1)", True),
        ("exists ((0:r1=1 \\/ x=2) /\\ y=1)", "exists ((0:r1=1 \\/ [x]=2) /\\ [y]=1)", False),
        ("exists (x=2 => y=1 \\/ 1:r0=1)", "exists (([x]=2 => [y]=1) \\/ 1:r0=1)", True),
        ("exists (x=2 /\\ y=0 => 1:r0=2)", "exists ([x]=2 /\\ ([y]=0 => 1:r0=2))", False),
        ("forall (0:r1=1:r0 /\\ x != 3)", "forall (0:r1=1:r0 /\\ not ([x]=3))", True),
        ("~exists (true /\\ not false)", "~exists (true /\\ not (false))", True),
        ("exists ([y]=[x] \\/ 0:x=x)", "exists ([y]=[x] \\/ 0:x=x)", True),
    ],
)
def test_condition_predicate_and_herd7_text(clause: str, text: str, holds: bool) -> None:
    lw = low(COND + clause + "\n")
    regs, mem = run_in_order(lw)
    cond = lw.program.condition
    assert cond.text == text
    assert cond.predicate(FinalState(mem, regs)) is holds


def test_observed_variables_in_herd7_order() -> None:
    lw = low(COND + "locations [y; 1:r0; x]\nfilter (0:r9=0)\n~exists (x=1 /\\ 0:r1=1:r0)\n")
    cond = lw.program.condition
    assert cond.kind is CondKind.NOT_EXISTS
    assert cond.observed == (RegVar(0, "r1"), RegVar(1, "r0"), MemVar(X), MemVar(Y))
    assert cond.filter is not None


@pytest.mark.parametrize("name", sorted(n for n, p in PRIMITIVES.items() if not p.kernel_only))
def test_every_primitive_of_linux_kernel_def(name: str) -> None:
    prim = PRIMITIVES[name]
    args = ", ".join({"lv": "*x", "ptr": "x", "val": "1"}[kind] for kind in prim.params)
    call = f"{name}({args})"
    returns = prim.returns or prim.post is not None
    body = f"r0 = {call};" if returns else f"{call};"
    lw = low(f"C t\n{{}}\nP0(int *x) {{ {body} }}\nexists (0:r0=0)\n")
    ops = trace(lw, 0, [0])
    assert ops == list(prim.build(*(X if k != "val" else 1 for k in prim.params)))
