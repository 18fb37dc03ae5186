"""``ptep-get-lockless-split``: reading a two-word PTE without locks (L6a, docs/labels.md).

Source: include/linux/pgtable.h, ptep_get_lockless() for
``CONFIG_GUP_GET_PXX_LOW_HIGH`` (x86-32 PAE, mips, sh) and its comment; the
x86 PAE writers of arch/x86/include/asm/pgtable-3level.h.  Model code:
:mod:`pinlab.kernel.pgtable_3level`.

A PTE is two 32-bit halves.  Two writers, each holding the PTL: ``fault``
makes an empty PTE present (pfn ``0x100123``); ``zap`` clears that PTE,
flushes the TLB, and makes it present again with another page whose low half
is identical (pfn ``0x200123``: the same low 20 pfn bits and flags).  A
lockless reader runs ptep_get_lockless() once, with interrupts off as
GUP-fast does (written as an RCU read-side section, the flush IPI as
synchronize_rcu(), :mod:`pinlab.kernel.arch`).  Forbidden: the reader returns
a present PTE that is neither of those written (a torn pfn).

- ``fault``: never under sc and lkmm; without the smp_wmb() of
  native_set_pte() or the first smp_rmb() of the reader: reachable (lkmm).
- ``zap``: never under lkmm; without the smp_wmb() of native_pte_clear() or
  the reader's second smp_rmb(): reachable (lkmm).
- ``irqs-on``: the zap writer and a reader that does not hold off the flush
  IPI (the page-fault path's orig_pte, only a hint it rechecks under the
  PTL): reachable even under sc -- the low half reads the same before and
  after present -> none -> present, so the recheck passes on a PTE made of
  P1's low half and the cleared high half.

``zap`` under sc is never too: the sc model's ``rcu`` axiom makes the flush
IPI's grace period wait for the reader's IRQ-off section.
"""

from __future__ import annotations

from typing import Any, Final

from pinlab.engine import FinalState, Loc, Program, kapi
from pinlab.kernel.eras import CURRENT, Era
from pinlab.kernel.mm_types import Cpu, Machine
from pinlab.kernel.pgtable import barrier_ipi
from pinlab.kernel.pgtable_3level import (
    SplitPte,
    native_pte_clear,
    native_set_pte,
    pte_high,
    pte_low,
    ptep_get_lockless,
)
from pinlab.kernel.pte import _PAGE_PRESENT, _PAGE_RW, _PAGE_USER, describe_pte, pfn_pte
from pinlab.scenarios.base import NEVER, REACHABLE, Built, Family, Scenario, row

__all__ = ["SCENARIOS", "build"]

NAME = "ptep-get-lockless-split"
SOURCE = "include/linux/pgtable.h ptep_get_lockless() (CONFIG_GUP_GET_PXX_LOW_HIGH)"
FAMILY = Family(
    NAME,
    title="ptep_get_lockless() on split PTE halves vs set_pte/pte_clear",
    source=SOURCE,
    forbidden="the lockless reader returns a present PTE with a torn pfn",
    patterns=("L6",),
)

_PROT: Final = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER
P1: Final = int(pfn_pte(0x100123, _PROT))
P2: Final = int(pfn_pte(0x200123, _PROT))
assert pte_low(P1) == pte_low(P2) and pte_high(P1) != pte_high(P2)


def build(era: Era, setup: str = "fault", irqs_off: bool = True) -> Built:
    machine = Machine(era)
    ptep = SplitPte.at("mm1.pte[0x100000]")
    ptl = Loc("mm1.ptl[0x100000]")

    def writer() -> Any:
        """Under the PTL: a fault (none -> P1), or a zap and a new fault (P1 -> none -> P2)."""
        cpu = Cpu(machine, id=1)
        if setup == "fault":
            yield from kapi.spin_lock(ptl)
            yield from native_set_pte(cpu, ptep, P1)
            yield from kapi.spin_unlock(ptl)
            return {}
        yield from kapi.spin_lock(ptl)
        yield from native_pte_clear(cpu, ptep)
        # flush_tlb_page(): x86 waits for every CPU to take the flush IPI.
        # Pairs with local_irq_save() in the GUP-fast reader.
        yield from barrier_ipi()
        yield from kapi.spin_unlock(ptl)
        yield from kapi.spin_lock(ptl)
        yield from native_set_pte(cpu, ptep, P2)
        yield from kapi.spin_unlock(ptl)
        return {}

    def reader() -> Any:
        """gup_fast() step B1 (interrupts off), or a fault's orig_pte (interrupts on)."""
        cpu = Cpu(machine, id=2)
        if irqs_off:
            yield from kapi.rcu_read_lock()  # local_irq_save()
        pte = yield from ptep_get_lockless(cpu, ptep)
        if irqs_off:
            yield from kapi.rcu_read_unlock()  # local_irq_restore()
        return {"pte": int(pte)}

    def bad(state: FinalState) -> str | None:
        pte = state.regs[1].get("pte", 0)
        if pte & _PAGE_PRESENT and pte not in (P1, P2):
            return f"torn PTE {pte:#x}: {describe_pte(pte)}"
        return None

    def describe_state(state: FinalState) -> list[str]:
        return [f"reader's PTE: {state.regs[1].get('pte', 0):#x}"]

    init = {} if setup == "fault" else {ptep.low: pte_low(P1), ptep.high: pte_high(P1)}
    program = Program(
        NAME,
        (writer, reader),
        init=init,
        thread_names=("set_pte/pte_clear", "ptep_get_lockless"),
    )
    return Built(program, bad, describe_state)


def _without(*names: str) -> Era:
    return CURRENT.without(*names)


SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    row("fault", CURRENT, sc=NEVER, lkmm=NEVER),
    row(
        "irqs-on",
        CURRENT,
        sc=REACHABLE,
        lkmm=REACHABLE,
        notes={"sc": "a reader that does not hold off the flush IPI: low-half ABA"},
        setup="zap",
        irqs_off=False,
    ),
    row("zap", CURRENT, sc=NEVER, lkmm=NEVER, setup="zap"),
    row("fault-no-wmb", _without("native_set_pte:wmb-high-low"), lkmm=REACHABLE),
    row("fault-no-rmb", _without("ptep_get_lockless:rmb-low-high"), lkmm=REACHABLE),
    row("zap-no-wmb", _without("native_pte_clear:wmb-low-high"), lkmm=REACHABLE, setup="zap"),
    row("zap-no-rmb", _without("ptep_get_lockless:rmb-recheck"), lkmm=REACHABLE, setup="zap"),
)
