"""``put-user-page-writeback``: writeback cleaning a file page a device writes through GUP (2018).

Source: the linux-mm thread "mm: introduce put_user_page*(), placeholder
versions" (Dec 2018: Jan Kara, Jerome Glisse, Dave Chinner, Matthew Wilcox,
John Hubbard), John Hubbard's July 2018 RFC; pattern L12 in docs/labels.md.

Setup (sequential): a MAP_SHARED mapping of an ext4 file, its page written
by the process (dirty, mapped writable after ->page_mkwrite).  A device
driver takes a writable longterm GUP reference on it (the gup_test pin:
``pin_user_pages(FOLL_WRITE | FOLL_LONGTERM)``; before FOLL_PIN that is a
plain reference).  Then two CPUs:

- writeback (fsync: WB_SYNC_ALL; ``background``: WB_SYNC_NONE):
  write_cache_pages() -- lock the folio, clear_page_dirty_for_io() (which
  folio_mkclean()s the PTE), start writeback, write the page to the disk,
  end writeback, unlock.  Whether it then looks for a pin, and what it sees,
  is the design under test (below);
- the device: writes its data into the page (DMA, through its reference),
  and -- in the ``release`` shape -- drops it with
  unpin_user_pages_dirty_lock(make_dirty) (before FOLL_PIN: the driver's
  set_page_dirty_lock() + put_page(); in the thread: put_user_pages_dirty_lock()).
  In the ``held`` shape the device keeps its reference, as an RDMA
  registration does: Jerome Glisse's "hardware can write to the page at
  _any_ time".

The designs (variants), each an era (what-if knobs of :mod:`pinlab.kernel.eras`):

- ``none``: v4.20, a pin is a reference; writeback has no way to tell, so
  it writes the page and leaves it clean under the device.
- ``counter``: the July 2018 RFC's separate ``dma_pinned_count``: exact.
- ``mapcount``: Jerome Glisse's ``_mapcount`` overloading as John Hubbard
  spelled it out in the thread: file pages count pins in ``_mapcount`` and
  "pinned" is page_mapped() -- which every mapped file page is.
- ``bias``: FOLL_PIN's GUP_PIN_COUNTING_BIAS (v6.2 era) with writeback that
  looks (Jan Kara's rule: skip when cleaning memory, bounce for integrity).
- ``v6.2``: the bias as merged: writeback can see the pin but does not look.
- ``v6.5``: the writable longterm pin on a dirty-tracked file mapping is
  refused (8ac268436e6d, a6e79df92e4a), so no device writes.

Forbidden outcomes, by question:

- ``lost`` (the data-loss question): at the end the page holds the device's
  data, the disk does not, and the folio is clean -- nothing will write it
  again (in the ``held`` shape not until the far-off unpin; the fsync that
  just returned did not write it either).
- ``unseen`` (``held`` shape): writeback wrote the page straight from the
  page, believing it unpinned, while the device held it for writing.
- ``unpinned`` (no GUP at all): writeback treats a page nobody pinned as
  pinned (bounces it, or skips it) -- the false positive of ``_mapcount``.

What writeback can do once it sees the pin: keep the folio dirty (skip it,
or write a bounce copy and redirty), so ``lost`` is never.  What it cannot
do: stop the device, which writes whenever it likes (the disk holds the
bounce copy, the page moves on); tell a pin from a mapping under
``_mapcount`` (every mapped file page is skipped or bounced forever, and a
pin keeps a page "mapped" after munmap); see anything under ``none``.
The page is one word, so torn I/O and torn bounce copies (Dave Chinner's
objection) are not modelled.

Model: sc -- the thread argues about design, not ordering.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from pinlab.engine import FinalState, kapi
from pinlab.kernel.defs import PAGE_SIZE, PG_dirty
from pinlab.kernel.eras import Era, PinProposal, era_by_name
from pinlab.kernel.mm_types import Cpu, Page, pfn_folio
from pinlab.kernel.mmap import MAP_SHARED, PROT_READ, PROT_WRITE
from pinlab.kernel.pin import unpin_user_pages_dirty_lock
from pinlab.kernel.process import PIN_LONGTERM_TEST_FLAG_USE_WRITE, PinSession, System
from pinlab.kernel.pte import pte_pfn
from pinlab.kernel.writeback import WB_SYNC_ALL, WB_SYNC_NONE, WbOutcome, write_cache_pages
from pinlab.scenarios.base import NEVER, REACHABLE, Built, Expect, Family, Row, Scenario, row
from pinlab.scenarios.common import paths

__all__ = ["DESIGNS", "SCENARIOS", "build"]

NAME: Final = "put-user-page-writeback"
SOURCE: Final = "lore: 'mm: introduce put_user_page*(), placeholder versions' (Dec 2018)"
USER_DATA: Final = 0x11
DEVICE_DATA: Final = 0xDD

V4_20 = era_by_name("v4.20")
V6_2 = era_by_name("v6.2")
V6_5 = era_by_name("v6.5")

# The ways to tell pins from references, each with writeback that would look.
DESIGNS: Final[dict[str, Era]] = {
    "none": dataclasses.replace(V4_20, writeback_handles_pins=True),
    "counter": dataclasses.replace(
        V4_20, pin_proposal=PinProposal.DMA_PINNED_COUNT, writeback_handles_pins=True
    ),
    "mapcount": dataclasses.replace(
        V4_20, pin_proposal=PinProposal.MAPCOUNT, writeback_handles_pins=True
    ),
    "bias": dataclasses.replace(V6_2, writeback_handles_pins=True),
    "v6.2": V6_2,
    "v6.5": V6_5,
}

FORBIDDEN: Final = {
    "lost": "the page holds the device's data, the disk does not, and the folio is clean",
    "unseen": "writeback writes the page as unpinned while the device holds it for writing",
    "unpinned": "writeback treats a page nobody pinned as pinned",
}
FAMILY: Final = Family(
    NAME,
    title="writeback vs a device writing through a GUP reference: can writeback see the pin?",
    source=SOURCE,
    forbidden=FORBIDDEN["lost"],
    patterns=("L12",),
)


def build(era: Era, shape: str = "held", question: str = "lost", sync: str = "fsync") -> Built:
    """The setup, run sequentially, and writeback's and the device's kernel paths."""
    system = System(era, strict=False)
    proc = system.spawn()  # a MAP_SHARED file mapping: not anon_page()
    file = system.tmpfile("ext4")
    system.fallocate(file, 0, PAGE_SIZE)
    addr = proc.mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0)
    proc.write(addr, USER_DATA)  # ->page_mkwrite: dirty, mapped writable
    pages: list[Page] = []
    if question != "unpinned":
        pin = proc.pin_longterm_test_start(addr, PAGE_SIZE, PIN_LONGTERM_TEST_FLAG_USE_WRITE)
        if isinstance(pin, PinSession):
            pages = list(pin.pages)  # the device's reference; the device drops it, if at all
    folio = pfn_folio(pte_pfn(int(system.memory[proc.mm.pte(addr)])))
    machine = system.machine
    sync_mode = WB_SYNC_ALL if sync == "fsync" else WB_SYNC_NONE

    def writeback() -> Any:
        cpu = Cpu(machine, id=1)
        outcomes = yield from write_cache_pages(cpu, machine, file, 1, sync_mode)
        return {"outcome": outcomes.get(0)}

    def device() -> Any:
        cpu = Cpu(machine, id=2)
        if not pages:
            return {"dma": False}  # no reference: nothing to write through
        yield from kapi.WRITE_ONCE(pages[0].data, DEVICE_DATA)  # DMA into the page
        if shape == "release":
            yield from unpin_user_pages_dirty_lock(cpu, pages, True)
        return {"dma": True}

    def seen(state: FinalState) -> tuple[int, int, bool, Any]:
        data = int(state.memory.get(folio.data, 0))
        disk = int(state.memory.get(file.disk(0), 0))
        dirty = bool(int(state.memory.get(folio.flags, 0)) >> PG_dirty & 1)
        return data, disk, dirty, state.regs[0].get("outcome")

    def bad(state: FinalState) -> str | None:
        data, disk, dirty, outcome = seen(state)
        if question == "lost":
            if data == DEVICE_DATA and disk != DEVICE_DATA and not dirty:
                return f"page {data:#x}, disk {disk:#x}, folio clean: the device's data is lost"
            return None
        if question == "unseen":
            if pages and outcome is WbOutcome.WRITTEN:
                return "writeback wrote the page as unpinned; the device holds it for writing"
            return None
        if outcome in (WbOutcome.BOUNCED, WbOutcome.SKIPPED):
            return f"writeback {outcome.name.lower()} a page nobody pinned"
        return None

    def describe_state(state: FinalState) -> list[str]:
        data, disk, dirty, outcome = seen(state)
        return [
            f"device reference: {'held' if pages else 'none (refused or not taken)'}",
            f"page data {data:#x}, disk {disk:#x}, folio {'dirty' if dirty else 'clean'}",
            f"writeback: {outcome.name if outcome is not None else '-'}",
        ]

    threads = {"write_cache_pages": writeback, "device": device}
    return Built(paths(NAME, system, threads), bad, describe_state)


def _row(
    variant: str,
    design: str,
    expected: Expect,
    notes: str = "",
    question: str = "lost",
    shape: str = "held",
    **params: Any,
) -> Row:
    """A design under sc and the LKMM, with the same verdict; the "release"
    shape under sc only.  Under lkmm it is reachable, and
    ``pinlab export put-user-page-writeback --era none-release --model sc``
    shows why: the device's write into the page and
    unpin_user_pages_dirty_lock()'s unlocked folio_test_dirty() against
    clear_page_dirty_for_io() and writeback's read of the page are store
    buffering with a full barrier on writeback's side only.  In the kernel the
    driver's completion path orders the device's DMA before the unpin
    (dma_rmb(), the completion interrupt); the model's device thread has no
    such step, so those rows would ask a question the kernel does not."""
    lkmm = None if shape == "release" else expected
    return row(
        variant,
        DESIGNS[design],
        sc=expected,
        lkmm=lkmm,
        notes=notes,
        forbidden=FORBIDDEN[question],
        shape=shape,
        question=question,
        **params,
    )


R, N = REACHABLE, NEVER
SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    # lost, the device keeps its reference (RDMA)
    _row("none", "none", R, "a pin is a reference: writeback cannot tell"),
    _row("counter", "counter", N, "dma_pinned_count: bounced, left dirty"),
    _row("mapcount", "mapcount", N, "page_mapped(): bounced, left dirty"),
    _row("bias", "bias", N, "folio_maybe_dma_pinned(): bounced, left dirty"),
    _row("bias-background", "bias", N, "skipped, redirtied", sync="background"),
    _row("v6.2", "v6.2", R, "as merged: writeback does not look at pins"),
    _row("v6.5", "v6.5", N, "the writable longterm pin is refused"),
    # lost, the device releases with make_dirty: L12's allowed outcome
    _row("none-release", "none", N, "set_page_dirty_lock() saves it", shape="release"),
    _row("v6.2-release", "v6.2", N, "unpin_user_pages_dirty_lock()", shape="release"),
    # unseen: writeback writes a page under DMA believing it unpinned
    _row("none-unseen", "none", R, question="unseen"),
    _row("counter-unseen", "counter", N, question="unseen"),
    _row("mapcount-unseen", "mapcount", N, question="unseen"),
    _row("bias-unseen", "bias", N, question="unseen"),
    _row("v6.2-unseen", "v6.2", R, "it could see, it does not look", question="unseen"),
    # unpinned: no GUP at all -- can the design tell a mapping from a pin?
    _row("counter-unpinned", "counter", N, question="unpinned"),
    _row("mapcount-unpinned", "mapcount", R, "mapped => 'pinned'", question="unpinned"),
    _row("bias-unpinned", "bias", N, question="unpinned"),
)
