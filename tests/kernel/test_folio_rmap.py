"""Folio reference counts and flags, and the PageAnonExclusive handover of rmap."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pinlab.engine import kapi
from pinlab.engine.ops import Fence, FenceTag, Op
from pinlab.engine.program import Loc
from pinlab.engine.sequential import Memory, SequentialExecutor
from pinlab.kernel import folio as fo
from pinlab.kernel import rmap
from pinlab.kernel.defs import EBUSY, GUP_PIN_COUNTING_BIAS, MMF_HAS_PINNED, vm_flags_t
from pinlab.kernel.eras import era_by_name
from pinlab.kernel.mm_types import Cpu, Machine, MmStruct, Vma


def _run(era: str, body: Any) -> tuple[Any, list[Op], Memory]:
    machine = Machine(era_by_name(era))
    cpu = Cpu(machine)
    ops: list[Op] = []
    ex = SequentialExecutor(Memory(machine.boot_memory()), after_step=lambda op, _: ops.append(op))
    return ex.run(body(cpu)), ops, ex.memory


def test_alloc_get_put_frees() -> None:
    def body(cpu: Cpu) -> Generator[Any, Any, Any]:
        folio = yield from fo.folio_alloc(cpu)
        yield from fo.folio_get(folio)
        yield from fo.folio_put(folio)
        alive = yield from fo.folio_ref_count(folio)
        yield from fo.folio_put(folio)
        revived = yield from fo.folio_try_get(folio)
        return folio, alive, revived

    (folio, alive, revived), _, memory = _run("current", body)
    assert alive == 1 and memory[folio._refcount] == 0
    assert not revived, "add-unless-zero never resurrects a freed folio"


def test_maybe_dma_pinned_is_the_bias() -> None:
    def body(cpu: Cpu) -> Generator[Any, Any, Any]:
        folio = yield from fo.folio_alloc(cpu)
        before = yield from fo.folio_maybe_dma_pinned(cpu, folio)
        yield from fo.folio_ref_add(folio, GUP_PIN_COUNTING_BIAS)
        after = yield from fo.folio_maybe_dma_pinned(cpu, folio)
        return before, after

    assert _run("current", body)[0] == (False, True)
    assert _run("v4.20", body)[0] == (False, False), "before FOLL_PIN nothing is 'pinned'"


def test_folio_lock() -> None:
    def body(cpu: Cpu) -> Generator[Any, Any, Any]:
        folio = yield from fo.folio_alloc(cpu)
        first = yield from fo.folio_trylock(folio)
        second = yield from fo.folio_trylock(folio)
        yield from fo.folio_unlock(folio)
        third = yield from fo.folio_trylock(folio)
        return first, second, third

    assert _run("current", body)[0] == (True, False, True)


def _anon(cpu: Cpu, mm: MmStruct) -> Generator[Any, Any, Any]:
    vma = Vma(
        mm,
        0x1000,
        0x2000,
        vm_flags_t.VM_READ | vm_flags_t.VM_WRITE | vm_flags_t.VM_MAYWRITE,
        0,
        1,
        Loc("av"),
    )
    folio = yield from fo.folio_alloc(cpu)
    yield from rmap.folio_add_new_anon_rmap(cpu, folio, vma, 0x1000, 1)
    return vma, folio


def _dup(has_pinned: bool) -> Any:
    def body(cpu: Cpu) -> Generator[Any, Any, Any]:
        mm = MmStruct("mm")
        vma, folio = yield from _anon(cpu, mm)
        yield from fo.folio_ref_add(folio, GUP_PIN_COUNTING_BIAS)
        if has_pinned:
            yield from kapi.set_bit(MMF_HAS_PINNED, mm.flags)
        ret = yield from rmap.folio_try_dup_anon_rmap_pte(cpu, folio, folio.page(), vma)
        return ret, (yield from fo.PageAnonExclusive(folio.page()))

    return body


def test_dup_refuses_maybe_pinned_exclusive_page() -> None:
    assert _run("current", _dup(True))[0] == (-EBUSY, True), "fork must copy it"
    assert _run("current", _dup(False))[0] == (0, False), "no MMF_HAS_PINNED: shared"


def test_share_barriers_only_since_v6_1() -> None:
    def body(cpu: Cpu) -> Generator[Any, Any, Any]:
        _vma, folio = yield from _anon(cpu, MmStruct("mm"))
        ret = yield from rmap.folio_try_share_anon_rmap_pte(cpu, folio, folio.page())
        return ret, (yield from fo.PageAnonExclusive(folio.page()))

    for era, fences in (("v5.19", []), ("v6.1", [FenceTag.MB, FenceTag.AFTER_ATOMIC])):
        (ret, exclusive), ops, _ = _run(era, body)
        assert ret == 0 and not exclusive
        assert [op.tag for op in ops if isinstance(op, Fence)][
            -len(fences) or len(ops) :
        ] == fences or not fences
        if not fences:
            assert not any(isinstance(op, Fence) and op.tag is FenceTag.MB for op in ops)
