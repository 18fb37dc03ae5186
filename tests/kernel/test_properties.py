"""The kernel model's promises as properties over random sequences of system calls.

On today's design (era ``current``), whatever a process does -- write, fork and
let the child write, take and drop long-term pins (R/O or R/W, fast or not),
MADV_DONTNEED, MADV_PAGEOUT, mprotect, KSM -- the invariant checker (I1-I15)
stays quiet after every step, a long-term pin keeps seeing what the process
writes (cow.c's promise), and parent and child never see each other's writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pinlab.kernel.defs import PAGE_SIZE
from pinlab.kernel.eras import era_by_name
from pinlab.kernel.mmap import (
    MADV_DONTNEED,
    MADV_MERGEABLE,
    MADV_PAGEOUT,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    PROT_READ,
    PROT_WRITE,
)
from pinlab.kernel.process import (
    PIN_LONGTERM_TEST_FLAG_USE_FAST,
    PIN_LONGTERM_TEST_FLAG_USE_WRITE,
    PinSession,
    Process,
    System,
)

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PAGES = 2

Step = tuple[Any, ...]
STEPS = st.one_of(
    st.tuples(st.just("write"), st.integers(0, PAGES - 1), st.integers(1, 250)),
    st.tuples(st.just("child-write"), st.integers(0, PAGES - 1), st.integers(1, 250)),
    st.tuples(st.just("fork")),
    st.tuples(st.just("pin"), st.integers(0, PAGES - 1), st.booleans(), st.booleans()),
    st.tuples(st.just("unpin")),
    st.tuples(st.just("dontneed"), st.integers(0, PAGES - 1)),
    st.tuples(st.just("pageout"), st.integers(0, PAGES - 1)),
    st.tuples(st.just("protect"), st.booleans()),
    st.tuples(st.just("ksm")),
)


@dataclass
class World:
    """A process with ``PAGES`` private anonymous pages, and what it should see."""

    system: System
    proc: Process
    addr: int
    # what the parent last wrote to each page (0: never, or dropped by MADV_DONTNEED)
    parent: list[int]
    # each child, what it should see, and whether its mapping is writable
    children: list[tuple[Process, list[int], bool]] = field(default_factory=list)
    pins: list[tuple[PinSession, int, bool]] = field(default_factory=list)  # session, page, rw
    writable: bool = True


def _world() -> World:
    system = System(era_by_name("current"))  # strict: every step is checked (I1-I15)
    proc = system.spawn()
    addr = proc.mmap(PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    return World(system, proc, addr, [0] * PAGES)


def _page(w: World, i: int) -> int:
    return w.addr + i * PAGE_SIZE


def _do(w: World, step: Step) -> None:
    kind = step[0]
    proc = w.proc
    if kind == "write" and w.writable:
        proc.write(_page(w, step[1]), step[2])
        w.parent[step[1]] = step[2]
    elif kind == "child-write" and w.children and w.children[-1][2]:
        child, seen, _ = w.children[-1]
        child.write(_page(w, step[1]), step[2])
        seen[step[1]] = step[2]
    elif kind == "fork" and len(w.children) < 2:
        w.children.append((proc.fork(), list(w.parent), w.writable))
    elif kind == "pin" and len(w.pins) < 2:
        flags = (PIN_LONGTERM_TEST_FLAG_USE_WRITE if step[2] else 0) | (
            PIN_LONGTERM_TEST_FLAG_USE_FAST if step[3] else 0
        )
        if step[2] and not w.writable:
            return
        s = proc.pin_longterm_test_start(_page(w, step[1]), PAGE_SIZE, flags)
        assert isinstance(s, PinSession), s
        w.pins.append((s, step[1], step[2]))
    elif kind == "unpin" and w.pins:
        proc.pin_longterm_test_stop(w.pins.pop(0)[0])
    elif kind == "dontneed" and not any(i == step[1] for _, i, _ in w.pins):
        proc.madvise(_page(w, step[1]), PAGE_SIZE, MADV_DONTNEED)
        w.parent[step[1]] = 0
    elif kind == "pageout":
        proc.madvise(_page(w, step[1]), PAGE_SIZE, MADV_PAGEOUT)
    elif kind == "protect":
        prot = PROT_READ | (PROT_WRITE if step[1] else 0)
        assert proc.mprotect(w.addr, PAGES * PAGE_SIZE, prot) == 0
        w.writable = step[1]
    elif kind == "ksm":
        proc.madvise(w.addr, PAGES * PAGE_SIZE, MADV_MERGEABLE)
        w.system.ksmd([(proc, _page(w, i)) for i in range(PAGES)])


def _run(steps: list[Step]) -> World:
    w = _world()
    for step in steps:
        _do(w, step)
    return w


@SETTINGS
@given(steps=st.lists(STEPS, max_size=10))
def test_no_invariant_breaks_on_any_sequence(steps: list[Step]) -> None:
    """The strict checker raises InvariantViolation on the step that breaks one."""
    _run(steps)


@SETTINGS
@given(steps=st.lists(STEPS, max_size=10))
# Found by this property: an R/O pin maps the shared zero page, the write
# COWs it, and fork must then copy the page tables (wp_page_copy() gives the
# VMA its anon_vma, as vmf_anon_prepare() does); the child read 0 before.
@example(steps=[("pin", 0, False, False), ("write", 0, 1), ("fork",)])
def test_each_process_reads_what_it_wrote(steps: list[Step]) -> None:
    w = _run(steps)
    assert [w.proc.read(_page(w, i)) for i in range(PAGES)] == w.parent
    for child, seen, _ in w.children:
        assert [child.read(_page(w, i)) for i in range(PAGES)] == seen


@SETTINGS
@given(steps=st.lists(STEPS, max_size=10), value=st.integers(1, 250))
def test_a_longterm_pin_sees_the_process_write(steps: list[Step], value: int) -> None:
    """cow.c's promise: after any history, a page pinned long-term (R/O or R/W) and
    then written by the process shows the write through the pin."""
    w = _run(steps)
    if not w.writable:
        assert w.proc.mprotect(w.addr, PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE) == 0
    s = w.proc.pin_longterm_test_start(_page(w, 0), PAGE_SIZE, 0)
    assert isinstance(s, PinSession), s
    w.proc.write(_page(w, 0), value)
    assert w.proc.pin_longterm_test_read(s) == [value]
