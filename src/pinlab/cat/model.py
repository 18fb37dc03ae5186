"""A memory model written in herd's cat language, as a pinlab :class:`~pinlab.engine.Model`.

:func:`load_cat` reads the model's files from wherever the user keeps them
(a kernel tree's ``tools/memory-model``); nothing of them is built into
pinlab.  Which files make the model:

- given a ``.cfg`` file (``linux-kernel.cfg``): its ``model`` line names the
  cat file, ``bell`` the bell file, ``macros`` the ``.def`` table and
  ``variant`` the variants, each path relative to the ``.cfg``'s folder, as
  herd7 reads them with ``-conf``;
- given a cat file: the ``.cfg`` beside it whose ``model`` line names it (the
  first in name order, if several do) supplies the bell, the table and the
  variants; ``bell=``, ``defs=`` and ``variants=`` override it; with neither,
  the model runs without a bell, its tag sets empty;
- herd's ``stdlib.cat`` is read first, from the cat file's folder or else the
  bell's; if it is in neither, the model runs without it.

The statements run in herd's order: stdlib, bell, cat.

**What the explorer may assume.**  ``allows_porf_cycles`` is True (a cat
file may allow load buffering; claiming otherwise would lose executions,
while True only costs speculation).  ``acquire_orders_later`` is False: it
would take a proof that the file's acyclicity checks forbid every cycle of
acquire-to-later-write and reads-from edges -- an inclusion of relations,
which the analysis below does not attempt -- so the explorer does not give
up early on speculation that only such a cycle would close; it explores
those branches to the end, where :meth:`CatModel.check` rejects them.
(The explorer itself places each write after the writes and reads of its
own thread to the location: every cat model of the kernel has that much
coherence.)

**Pruning.**  :meth:`CatModel.check_partial` decides, on a partial graph,
the checks that can never hold again on any completion once they fail
there: no ``flag``, not negated, an ``acyclic``, ``irreflexive`` or
``empty`` of a value that only *grows* as the graph is completed.  Which
values grow is decided once, when the model is loaded, from their form
(:mod:`pinlab.cat.monotone`, which states the rule and its argument):
relations of the graph that only grow (``rf``, ``co``, ``fr``, ``rmw``)
and ones that never change on the events already there (``po``, ``loc``,
``int``, ``id``, kind and tag sets) combined by ``|``, ``&``, ``;``,
closures, inverses, products and ``[S]``, and ``A \\ B`` or ``~B`` only
where ``B`` can only lose members among the old events -- so ``\\ po ; po``
or ``M \\ Marked`` are fine and ``\\ rf`` is not.  A name chosen by
``with`` is unknown; but a run counts only if the model's last ``rf`` and
``co`` are the graph's (:mod:`pinlab.cat.program`), so a partial run binds
those two to the graph's and computes no choice.  For the kernel's files
that is lock.cat's ``lock-nest`` and ``nested-is-locked`` and the cat's
``coherence``, ``atomic``, ``happens-before`` and ``propagation`` (the
axioms the built-in model prunes by); not ``rcu`` or ``plain-coherence``,
whose critical sections are matched with ``\\`` inside a ``let rec``, nor
``unmatched-locks``, which a later unlock can make hold.

A partial run computes only what those checks use, and runs after each new
reads-from (and on the explorer's full checks), not after a write is merely
placed in coherence: the next reads-from, or the complete graph's check,
sees that.  Skipping calls never loses an execution; checking at each
reads-from stops a thread from running on with values no completion can
give it (a pointer read from an incoherent write, dereferenced).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pinlab.cat.deffile import DefTable, read_def
from pinlab.cat.errors import CatError, Pos, read_file
from pinlab.cat.graphbase import TagMap, Unavailable
from pinlab.cat.monotone import prunable_checks
from pinlab.cat.parse import read_model
from pinlab.cat.program import Program
from pinlab.engine.graph import ExecutionGraph
from pinlab.engine.models.base import Change, Verdict

__all__ = ["CatModel", "Config", "load_cat", "read_cfg"]


@dataclass(frozen=True, slots=True)
class Config:
    """The lines of a herd7 ``.cfg`` file that name the model's files."""

    path: Path
    model: Path | None
    bell: Path | None
    macros: Path | None
    variants: frozenset[str]


def read_cfg(path: str | Path) -> Config:
    path = Path(path)
    text = read_file(path)
    found: dict[str, Path] = {}
    variants: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        words = line.split("//", 1)[0].split()
        if len(words) < 2 and words:
            if words[0] in ("model", "bell", "macros", "variant"):
                raise CatError(Pos(str(path), lineno, 1), f"{words[0]}: expected a value")
            continue
        if not words:
            continue
        key, value = words[0], " ".join(words[1:])
        if key in ("model", "bell", "macros"):
            found[key] = path.parent / value
        elif key == "variant":
            variants |= {w for w in value.replace(",", " ").split() if w}
    return Config(path, found.get("model"), found.get("bell"), found.get("macros"),
                  frozenset(variants))  # fmt: skip


def _cfg_naming(cat: Path) -> Config | None:
    for cfg in sorted(cat.parent.glob("*.cfg")):
        conf = read_cfg(cfg)
        if conf.model is not None and conf.model.resolve() == cat.resolve():
            return conf
    return None


class CatModel:
    """A cat model: ``check`` runs the model's checks on a complete graph."""

    allows_porf_cycles = True
    acquire_orders_later = False

    def __init__(
        self,
        program: Program,
        tags: TagMap,
        name: str,
        files: tuple[Path, ...],
        defs: DefTable | None,
    ) -> None:
        self.program = program
        self.tags = tags
        self.name = name
        self.files = files  # stdlib, bell, cat: what was read
        self.defs = defs
        # the top-level checks that may prune partial graphs (pinlab.cat.monotone)
        self.prunable = prunable_checks(program.stmts, program.variants)

    def __repr__(self) -> str:
        return f"CatModel({self.name!r})"

    @property
    def pruning(self) -> tuple[str, ...]:
        """The names of the checks :meth:`check_partial` decides, in the model's order."""
        labels = [st[5] for st in self.program.steps if st[0] == "check"]
        return tuple(labels[k] for k in sorted(self.prunable))

    def check(self, g: ExecutionGraph) -> Verdict:
        try:
            return self.program.run(g, self.tags)
        except Unavailable as err:
            raise CatError(Pos(str(self.files[-1])), str(err)) from None

    def check_partial(self, g: ExecutionGraph, change: Change) -> bool:
        """The model's prunable checks on the partial graph ``g`` (module docstring),
        after a new reads-from or any larger change; a write's place in
        coherence alone is left to the next of those (or to :meth:`check`)."""
        if not self.prunable or change[0] == "co":
            return True
        try:
            return self.program.run_partial(g, self.tags, self.prunable)
        except (CatError, Unavailable):
            return True  # (the complete graph's check will say what is wrong)


def load_cat(
    path: str | Path,
    *,
    bell: str | Path | None = None,
    defs: str | Path | None = None,
    variants: frozenset[str] | set[str] | None = None,
) -> CatModel:
    """The model of the cat (or ``.cfg``) file ``path``; errors are :class:`CatError`."""
    path = Path(path)
    if not path.is_file():
        raise CatError(Pos(str(path)), "no such file")
    conf: Config | None
    if path.suffix == ".cfg":
        conf = read_cfg(path)
        if conf.model is None:
            raise CatError(Pos(str(path)), "no 'model' line: which cat file is the model?")
        cat = conf.model
    else:
        cat, conf = path, _cfg_naming(path)
    bell_path = Path(bell) if bell is not None else conf.bell if conf else None
    def_path = Path(defs) if defs is not None else conf.macros if conf else None
    chosen = frozenset(variants) if variants is not None else conf.variants if conf else frozenset()

    stmts = []
    files: list[Path] = []
    dirs = [cat.parent] + ([bell_path.parent] if bell_path is not None else [])
    stdlib = next((d / "stdlib.cat" for d in dirs if (d / "stdlib.cat").is_file()), None)
    if stdlib is not None and stdlib.resolve() != cat.resolve():
        stmts += read_model(stdlib, cat.parent).stmts
        files.append(stdlib)
    if bell_path is not None:
        stmts += read_model(bell_path, cat.parent).stmts
        files.append(bell_path)
    main = read_model(cat)
    stmts += main.stmts
    files.append(cat)
    program = Program(stmts, chosen)
    table = read_def(def_path) if def_path is not None else None
    try:
        tags = TagMap(table, frozenset(program.enum_tags))
    except Unavailable as err:
        raise CatError(Pos(str(def_path)), str(err)) from None
    return CatModel(program, tags, f"cat:{cat.name}", tuple(files), table)
