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
file may allow load buffering; claiming otherwise would lose executions).
``acquire_orders_later`` is False: nothing says an arbitrary file orders an
acquire before what follows it, so the explorer cannot give up early on
speculation that only a happens-before cycle would close -- it explores
those branches to the end, where :meth:`CatModel.check` rejects them.  For
the same reason :meth:`CatModel.check_partial` prunes nothing: the built-in
models prune by coherence and atomicity, which an arbitrary file need not
have, and a check of the file on a partial graph is sound only for checks
that can never hold again once they fail, which the file's ``\\`` and ``~``
(and choices made with ``with``) can break.  Both cost speed, never answers.
(The explorer itself places each write after the writes and reads of its
own thread to the location: every cat model of the kernel has that much
coherence.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pinlab.cat.deffile import DefTable, read_def
from pinlab.cat.errors import CatError, Pos
from pinlab.cat.graphbase import TagMap, Unavailable
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
    try:
        text = path.read_text()
    except OSError as err:
        raise CatError(Pos(str(path)), f"cannot read {path}: {err.strerror}") from None
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

    def __repr__(self) -> str:
        return f"CatModel({self.name!r})"

    def check(self, g: ExecutionGraph) -> Verdict:
        try:
            return self.program.run(g, self.tags)
        except Unavailable as err:
            raise CatError(Pos(str(self.files[-1])), str(err)) from None

    def check_partial(self, g: ExecutionGraph, change: Change) -> bool:
        """Prune nothing (see the module docstring)."""
        return True


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
