"""Engine events in kernel terms: locations, values, operations and source lines.

The kernel model names its memory locations after the kernel's fields
(:mod:`pinlab.kernel.mm_types`): ``folio0x101._refcount``,
``mm0.1.pte[0x10000]``, ``mm0.1.write_protect_seq``.  This module reads those
names back as a kernel developer writes them (``folio0x101->_refcount``,
``PTE mm0.1 0x10000000``) and decodes their values: a PTE through
:func:`~pinlab.kernel.pte.describe_pte`, a folio's flags word as ``PG_*``
names, a refcount as pins (``GUP_PIN_COUNTING_BIAS``) plus references.

It also finds where a step comes from: the explorer records the call stack
that yielded an operation; :func:`source_of` picks the innermost modelled
kernel function and its caller, with the model's file and the kernel file
the function's docstring names ("Model of mm/gup.c:gup_fast_pte_range()").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from pinlab.engine import Event, EvKind
from pinlab.kernel import defs
from pinlab.kernel.barriers import BARRIERS
from pinlab.kernel.defs import GUP_PIN_COUNTING_BIAS, MMF_HAS_PINNED, PAGE_SHIFT, PMD_SHIFT
from pinlab.kernel.index import functions
from pinlab.kernel.pte import describe_pte

__all__ = ["Source", "describe_loc", "describe_value", "operation", "source_of"]

_PG_NAMES: Final = {
    getattr(defs, n): n for n in sorted(dir(defs)) if n.startswith("PG_")
}  # fmt: skip
_TABLE: Final = re.compile(r"^(?P<mm>.+)\.(?P<kind>pte|pmd|ptl)\[(?P<idx>0x[0-9a-f]+)\]$")
_FIELD: Final = re.compile(r"^(?P<obj>folio0x[0-9a-f]+|zero_page|swap0x[0-9a-f]+)\.(?P<f>\w+)$")
_MM: Final = re.compile(
    r"^(?P<mm>mm[\w.]*)\.(?P<f>flags|has_pinned|write_protect_seq|mmap_lock|page_table_lock)$"
)
_ANON_VMA: Final = re.compile(r"^(?P<mm>mm[\w.]*)\.anon_vma\[(?P<n>\d+)\]$")


def describe_loc(loc: str) -> str:
    """A location as a kernel developer would name it."""
    m = _TABLE.match(loc)
    if m:
        idx = int(m["idx"], 16)
        if m["kind"] == "pte":
            return f"PTE {m['mm']} {idx << PAGE_SHIFT:#x}"
        what = "PMD" if m["kind"] == "pmd" else "PTE table lock"
        return f"{what} {m['mm']} {idx << PMD_SHIFT:#x}"
    m = _FIELD.match(loc) or _MM.match(loc)
    if m:
        obj = m.groupdict().get("obj") or m["mm"]
        return f"{obj}->{m['f']}"
    m = _ANON_VMA.match(loc)
    if m:
        return f"{m['mm']} vma->anon_vma[{m['n']}]"
    if loc.startswith("vmstat."):
        return f"vmstat {loc[len('vmstat.') :].upper()}"
    return loc


def _flags(v: int) -> str:
    names = [name for bit, name in sorted(_PG_NAMES.items()) if v >> bit & 1]
    rest = v & ~sum(1 << b for b in _PG_NAMES)
    if rest:
        names.append(f"{rest:#x}")
    return "|".join(names) or "0"


def _refcount(v: int) -> str:
    if v >= GUP_PIN_COUNTING_BIAS:
        pins, refs = divmod(v, GUP_PIN_COUNTING_BIAS)
        return f"{v} ({pins}×GUP_PIN_COUNTING_BIAS + {refs})"
    return str(v)


def _mapping(v: int) -> str:
    low = v & defs.PAGE_MAPPING_FLAGS
    if low == defs.PAGE_MAPPING_FLAGS:
        return "KSM"
    if low == defs.PAGE_MAPPING_ANON:
        return "anon"
    return "none" if v == 0 else f"file {v >> 2}"


def describe_value(loc: str | None, value: Any) -> str:
    """``value`` as stored at ``loc``, decoded where the location says how."""
    if not isinstance(value, int) or isinstance(value, bool) or loc is None:
        return str(value)
    kind = _TABLE.match(loc)
    if kind and kind["kind"] == "pte":
        return describe_pte(value)
    field = loc.rsplit(".", 1)[-1]
    is_folio = loc.startswith(("folio", "zero_page"))
    if is_folio and field == "flags":
        return _flags(value)
    if is_folio and field == "_refcount":
        return _refcount(value)
    if is_folio and field == "_mapcount":
        return f"{value} (mapcount {value + 1})"
    if is_folio and field == "mapping":
        return _mapping(value)
    if _MM.match(loc) and field == "flags":
        return "MMF_HAS_PINNED" if value == 1 << MMF_HAS_PINNED else f"{value:#x}"
    if field == "write_protect_seq":
        return f"{value} ({'odd: write section open' if value & 1 else 'even'})"
    return str(value)


def diff_value(loc: str | None, old: Any, new: Any) -> str:
    """What a write changed, e.g. ``+PG_referenced`` for a folio's flags."""
    both_int = all(isinstance(v, int) and not isinstance(v, bool) for v in (old, new))
    if both_int and loc is not None and loc.endswith(".flags") and loc.startswith("folio"):
        set_ = [n for b, n in sorted(_PG_NAMES.items()) if (new >> b & 1) and not (old >> b & 1)]
        clr = [n for b, n in sorted(_PG_NAMES.items()) if (old >> b & 1) and not (new >> b & 1)]
        return " ".join([f"+{n}" for n in set_] + [f"-{n}" for n in clr]) or "unchanged"
    return f"{describe_value(loc, old)} → {describe_value(loc, new)}"


_FENCES: Final = {
    "mb": "smp_mb()",
    "rmb": "smp_rmb()",
    "wmb": "smp_wmb()",
    "barrier": "barrier()",
    "rcu-lock": "rcu_read_lock()",
    "rcu-unlock": "rcu_read_unlock()",
    "sync-rcu": "synchronize_rcu()",
    "before-atomic": "smp_mb__before_atomic()",
    "after-atomic": "smp_mb__after_atomic()",
    "after-spinlock": "smp_mb__after_spinlock()",
    "after-unlock-lock": "smp_mb__after_unlock_lock()",
    "after-srcu-read-unlock": "smp_mb__after_srcu_read_unlock()",
}
_READS: Final = {"once": "READ_ONCE", "acquire": "smp_load_acquire", "plain": "plain read"}
_WRITES: Final = {"once": "WRITE_ONCE", "release": "smp_store_release", "plain": "plain write"}
_RMW: Final = {
    "mb": "atomic RMW (mb)",
    "noreturn": "atomic RMW (no return)",
    "once": "atomic RMW (relaxed)",
    "acquire": "atomic RMW (acquire)",
    "release": "atomic RMW (release)",
}


def fence_name(ev: Event) -> str:
    name = _FENCES.get(ev.tag or "", f"fence[{ev.tag}]")
    if ev.label:
        b = BARRIERS.get(ev.label)
        pairs = f", pairs with {b.pairs_with}" if b is not None else ""
        return f"{name} [{ev.label}{pairs}]"
    return name


def _is_mmap_lock(loc: str | None) -> bool:
    return loc is not None and loc.endswith(".mmap_lock")


def _rmw(tag: str) -> str:
    return _RMW.get(tag, f"atomic RMW[{tag}]")


def operation(step: tuple[Event, ...]) -> str:
    """The kernel operation one step performs (a step is one event, or both
    halves of an atomic RMW or of a lock).  A lone half of a *successful* RMW
    (``Event.rmw >= 0``: its write half exists) names the RMW and the half; a
    lone atomic read without a write half is an RMW that failed (a
    ``cmpxchg()`` whose comparison failed, an ``atomic_add_unless()`` that
    did not add) and wrote nothing."""
    first = step[0]
    tag = first.tag or ""
    match first.kind:
        case EvKind.F:
            return fence_name(first)
        case EvKind.LKR | EvKind.LKW:
            return "mmap_write_lock()" if _is_mmap_lock(first.loc) else "spin_lock()"
        case EvKind.UL:
            return "mmap_write_unlock()" if _is_mmap_lock(first.loc) else "spin_unlock()"
        case EvKind.LF:
            return "spin_trylock() fails"
        case EvKind.RL | EvKind.RU:
            return "spin_is_locked()"
        case EvKind.SRCU:
            return "synchronize_srcu()"
        case EvKind.R if len(step) == 2:
            return _rmw(tag)
        case EvKind.R | EvKind.W if first.rmw >= 0:  # one half of a successful RMW
            return f"{_rmw(tag)}: {'read' if first.is_read else 'write'}"
        case EvKind.R if first.atomic:
            return f"{_rmw(tag)} fails, reads only"
        case EvKind.R:
            return _READS.get(tag, f"read[{tag}]")
        case EvKind.W if first.atomic:
            return f"atomic write[{tag}]"
        case EvKind.W:
            return _WRITES.get(tag, f"write[{tag}]")
    return first.kind.name


@dataclass(frozen=True, slots=True)
class Source:
    function: str
    line: int
    file: str | None  # the model's file, relative to the package: "kernel/gup_fast.py"
    origin: str | None  # the kernel file the docstring names: "mm/gup.c"
    caller: str | None = None  # the modelled kernel function that called ``function``

    def __str__(self) -> str:
        file = self.file.removeprefix("kernel/") if self.file else None
        where = f"{file}:{self.line}" if file else f"line {self.line}"
        origin = f" {self.origin} " if self.origin else ""
        caller = f"{self.caller}() › " if self.caller else ""
        return f"{caller}{self.function}(){origin} {where}"


def _resolve(function: str, line: int) -> Source:
    for d in functions().get(function, []):
        if d.first <= line <= d.last:
            return Source(function, line, d.path, d.origin)
    return Source(function, line, None, None)


def source_of(src: tuple[tuple[str, int], ...] | None) -> Source | None:
    """Where a step comes from, in kernel terms.

    ``src`` is the recorded call stack (outermost first).  The step belongs to
    the innermost frame that models a kernel function (its docstring names
    the kernel file), so that the model's own helpers -- a flag test, the
    yielding of a named barrier -- are shown as the kernel function that
    uses them; the next such frame out is its caller.
    """
    if not src:
        return None
    frames = [_resolve(function, line) for function, line in src]
    kernel = [f for f in frames if f.origin is not None]
    if not kernel:
        return frames[-1]
    inner = kernel[-1]
    caller = kernel[-2].function if len(kernel) > 1 else None
    return Source(inner.function, inner.line, inner.file, inner.origin, caller)
