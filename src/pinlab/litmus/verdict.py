"""herd7's summary of a litmus run, computed from an exploration (or read from herd7's output).

herd7 prints, for each test (herd/top_herd.ml): the kind of the condition
(``exists`` is ``Allowed``, ``~exists`` ``Forbidden``, ``forall``
``Required``); the distinct final states over the displayed variables, in
its order; ``Ok`` when the condition is validated (``exists``: some
execution satisfies the proposition; ``~exists``: none does; ``forall``: all
do), prefixed ``Loop`` when a loop was cut by the unrolling bound; the
witness counts, swapped for ``~exists``; the flags of the model;
the condition, normalised; and the observation: ``Never`` when no execution
satisfies the proposition, ``Always`` when all do, else ``Sometimes``.

A :class:`Verdict` holds exactly that, so the herd7 text, the JSON record and
the ``Result:`` judge all read one value.  An exploration that stopped at a
time or execution limit has no verdict: ``ok`` and ``observation`` are None.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from pinlab.engine import CondKind, Loc, Observable
from pinlab.litmus.lower import Lowered

__all__ = ["KIND_WORD", "ExplorationLike", "Verdict", "parse_herd7", "verdict"]

KIND_WORD: Final = {
    CondKind.EXISTS: "Allowed",
    CondKind.NOT_EXISTS: "Forbidden",
    CondKind.FORALL: "Required",
}
COMPLETE: Final = "complete"
BOUND: Final = "bound-reached"  # herd7 still decides, and prints "Loop"
FIRST: Final = "first"  # -speedcheck fast: stopped at the first execution that settles it

State = tuple[tuple[str, str], ...]  # (variable, value) as herd7 prints them


class ExplorationLike(Protocol):
    """The fields of the engine's ``ExplorationResult`` that herd7's output needs."""

    @property
    def states(self) -> Mapping[tuple[Any, ...], int]: ...
    @property
    def positive(self) -> int: ...
    @property
    def negative(self) -> int: ...
    @property
    def flags(self) -> frozenset[str]: ...
    @property
    def outcome(self) -> Any: ...
    @property
    def stats(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    kind: str  # Allowed | Forbidden | Required
    states: tuple[State, ...]
    ok: bool | None  # None: no verdict (the run stopped at a limit)
    loop: bool
    witnesses: tuple[int, int]  # the Positive/Negative line
    flags: tuple[str, ...]
    condition: str
    observation: str | None  # Never | Sometimes | Always
    positive: int  # w.r.t. the proposition, as on the Observation line
    negative: int
    seconds: float
    hash: str | None = None
    outcome: str = COMPLETE
    explored: int | None = None
    consistent: int | None = None
    # herd7's -speedcheck mode of the run: under "true" and "fast" only the
    # executions that settle the condition were counted (and flagged)
    speedcheck: str = "false"


def _value_text(v: Any) -> str:
    return v.name if isinstance(v, Loc) else str(v)


def _value_key(v: Any) -> tuple[int, Any]:
    """herd7's order on values: integers, then symbolic addresses by name."""
    if isinstance(v, int):
        return (0, v)
    if isinstance(v, Loc):
        return (1, v.name)
    return (2, str(v))


def _states(
    observed: tuple[Observable, ...], states: Iterable[tuple[Any, ...]]
) -> tuple[State, ...]:
    names = [str(var) for var in observed]
    ordered = sorted(states, key=lambda st: tuple(_value_key(v) for v in st))
    return tuple(tuple(zip(names, map(_value_text, st), strict=True)) for st in ordered)


def _observation(positive: int, negative: int) -> str:
    if positive == 0:
        return "Never"
    return "Always" if negative == 0 else "Sometimes"


def _settled(kind: CondKind, positive: int, negative: int) -> str:
    """herd7's observation under -speedcheck, where only the executions that
    settle the condition are counted: Sometimes when there is one, else what
    the condition's kind says of none (Never; Always for ``forall``)."""
    if positive or negative:
        return "Sometimes"
    return "Always" if kind is CondKind.FORALL else "Never"


def verdict(lowered: Lowered, result: ExplorationLike, seconds: float) -> Verdict:
    """herd7's summary of ``result``, the exploration of ``lowered``."""
    cond = lowered.program.condition
    pos, neg = result.positive, result.negative
    outcome = str(result.outcome)
    decided = outcome in (COMPLETE, BOUND, FIRST)
    settling = lowered.speedcheck != "false"
    observation = _settled(cond.kind, pos, neg) if settling else _observation(pos, neg)
    ok = {CondKind.EXISTS: pos > 0, CondKind.NOT_EXISTS: pos == 0, CondKind.FORALL: neg == 0}
    stats = result.stats
    return Verdict(
        name=lowered.name,
        kind=KIND_WORD[cond.kind],
        states=_states(cond.observed, result.states),
        ok=ok[cond.kind] if decided else None,
        loop=outcome == BOUND,
        witnesses=(neg, pos) if cond.kind is CondKind.NOT_EXISTS else (pos, neg),
        flags=tuple(sorted(result.flags)),
        condition=cond.text,
        observation=observation if decided else None,
        positive=pos,
        negative=neg,
        seconds=seconds,
        hash=lowered.hash,
        outcome=outcome,
        explored=getattr(stats, "explored", None),
        consistent=getattr(stats, "consistent", None),
        speedcheck=lowered.speedcheck,
    )


# ------------------------------------------------------- herd7's own output

_TEST: Final = re.compile(r"^Test (\S+) (\S+)$")
_STATE_ITEM: Final = re.compile(r"(\S+?)=(\S*?);")
_WITNESS: Final = re.compile(r"^Positive: (\d+) Negative: (\d+)$")
_OBSERVATION: Final = re.compile(r"^Observation (\S+) (\S+) (\d+) (\d+)$")
_TIME: Final = re.compile(r"^Time (\S+) ([0-9.]+)$")
_VALIDATION: Final = re.compile(r"^(Loop )?(Ok|No|Undef)$")


def _one_herd7(lines: list[str]) -> Verdict:
    m = _TEST.match(lines[0])
    assert m is not None
    name, kind = m.groups()
    nstates = int(lines[1].split()[1])
    states = tuple(tuple(_STATE_ITEM.findall(line)) for line in lines[2 : 2 + nstates])
    rest = lines[2 + nstates :]
    fields: dict[str, Any] = {
        "flags": [], "seconds": 0.0, "hash": None, "ok": None, "loop": False,
        "witnesses": (0, 0), "condition": "", "observation": None, "positive": 0, "negative": 0,
    }  # fmt: skip
    for line in rest:
        if (v := _VALIDATION.match(line)) is not None:
            fields["loop"] = v[1] is not None
            fields["ok"] = v[2] == "Ok"
        elif (w := _WITNESS.match(line)) is not None:
            fields["witnesses"] = (int(w[1]), int(w[2]))
        elif line.startswith("Flag "):
            fields["flags"].append(line.split()[1])
        elif line.startswith("Condition "):
            fields["condition"] = line[len("Condition ") :]
        elif (o := _OBSERVATION.match(line)) is not None:
            fields["observation"] = o[2]
            fields["positive"], fields["negative"] = int(o[3]), int(o[4])
        elif (t := _TIME.match(line)) is not None:
            fields["seconds"] = float(t[2])
        elif line.startswith("Hash="):
            fields["hash"] = line[len("Hash=") :]
    fields["flags"] = tuple(fields["flags"])
    return Verdict(name=name, kind=kind, states=states, **fields)


def parse_herd7(text: str) -> list[Verdict]:
    """The verdicts in herd7's output ``text`` (one per ``Test`` block)."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if _TEST.match(line):
            blocks.append([line])
        elif blocks and line.strip():
            blocks[-1].append(line.rstrip())
    return [_one_herd7(b) for b in blocks if len(b) > 1 and b[1].startswith("States ")]
