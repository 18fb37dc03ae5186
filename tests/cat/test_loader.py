"""Loading a model: .cfg files, the bell beside the cat, includes, and the .def table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pinlab.cat import CatError, load_cat, parse_def, read_cfg, read_def
from pinlab.cat.graphbase import TagMap, Unavailable
from pinlab.engine.ops import Fence, IsLocked, Load, Lock, Rmw, SrcuSync, Store, TryLock, Unlock
from pinlab.engine.primitives import PRIMITIVES
from tests.cat.lkmm_files import CFG, LKMM, NEEDS_LKMM

# -- files of our own ------------------------------------------------------------


def test_includes_resolve_beside_the_file_then_beside_the_main_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "main.cat").write_text('"m"\ninclude "sub/a.cat"\nacyclic po | b as sc\n')
    (tmp_path / "sub" / "a.cat").write_text('include "b.cat"\ninclude "c.cat"\n')
    (tmp_path / "sub" / "b.cat").write_text("let b = rf\n")
    (tmp_path / "c.cat").write_text("let c = co\n")
    model = load_cat(tmp_path / "main.cat")
    assert model.name == "cat:main.cat"
    assert [n for n in model.program.names if n in ("b", "c")] == ["b", "c"]


def test_an_include_cycle_and_a_missing_include(tmp_path: Path) -> None:
    (tmp_path / "a.cat").write_text('include "b.cat"\n')
    (tmp_path / "b.cat").write_text('let x = 0\ninclude "a.cat"\n')
    with pytest.raises(CatError, match=r"b.cat:2:1: include 'a.cat': a cycle"):
        load_cat(tmp_path / "a.cat")
    (tmp_path / "c.cat").write_text('\n  include "nowhere.cat"\n')
    with pytest.raises(CatError, match=r"c.cat:2:3: include 'nowhere.cat': no such file"):
        load_cat(tmp_path / "c.cat")


def test_a_cfg_beside_the_cat_names_its_bell_table_and_variants(tmp_path: Path) -> None:
    (tmp_path / "m.cfg").write_text("macros m.def\nbell m.bell\nmodel m.cat\nvariant v1,v2\n")
    (tmp_path / "m.def").write_text("MY_READ(X) __load{Once}(X)\n")
    (tmp_path / "m.bell").write_text("enum A = 'Once\n")
    cat = 'acyclic po | rf as x\nflag ~empty (if "v2" then po else 0) as v\n'
    (tmp_path / "m.cat").write_text(cat)
    conf = read_cfg(tmp_path / "m.cfg")
    assert conf.variants == {"v1", "v2"} and conf.model == tmp_path / "m.cat"
    for path in (tmp_path / "m.cfg", tmp_path / "m.cat"):
        model = load_cat(path)
        assert model.files == (tmp_path / "m.bell", tmp_path / "m.cat")
        assert model.defs is not None and "MY_READ" in model.defs.entries
        assert model.program.variants == {"v1", "v2"}
        assert model.tags.annotation("once") == "Once"
    alone = load_cat(tmp_path / "m.cat", variants=set(), bell=tmp_path / "m.bell")
    assert alone.program.variants == frozenset()
    (tmp_path / "n.cfg").write_text("bell m.bell\n")
    with pytest.raises(CatError, match=r"n\.cfg: no 'model' line"):
        load_cat(tmp_path / "n.cfg")


def test_the_def_table_of_our_own() -> None:
    table = parse_def(
        "// a comment\nMY_READ(X) __load{ONCE}(X)\nMY_WRAP(X) MY_READ(*X) == 0\n"
        "MY_PAIR(X,V) { __store{RELEASE}(X,V); __fence{MB}; }\nMY_LOCK(X) { __lock(X); }\n",
        "t.def",
    )
    assert [(o.builtin, o.annotations) for o in table.entries["MY_WRAP"].ops] == [
        ("load", ("ONCE",))
    ]
    assert [(o.builtin, o.annotations) for o in table.entries["MY_PAIR"].ops] == [
        ("store", ("RELEASE",)),
        ("fence", ("MB",)),
    ]
    assert table.entries["MY_LOCK"].ops[0].annotations == ()
    assert table.annotations() == {"ONCE", "RELEASE", "MB"}
    with pytest.raises(CatError, match=r"t.def:1:1: A: uses B, which the table does not define"):
        parse_def("A(X) B(X)\n", "t.def")
    with pytest.raises(CatError, match=r"t.def:2:1: expected NAME\(PARAMS\)"):
        parse_def("A(X) __load{ONCE}(X)\n= nonsense\n", "t.def")


def test_a_tag_the_vocabulary_lacks_is_an_error() -> None:
    tags = TagMap(parse_def("R(X) __load{ONCE}(X)\n", "t.def"), frozenset())
    assert tags.annotation("once") == "ONCE" and tags.annotation("plain") is None
    with pytest.raises(Unavailable, match=r"'acquire' is not one of t\.def"):
        tags.annotation("acquire")


# -- the kernel's files -------------------------------------------------------------


@NEEDS_LKMM
def test_the_kernel_cfg_loads() -> None:
    model = load_cat(CFG)
    assert model.name == "cat:linux-kernel.cat"
    assert [p.name for p in model.files] == ["stdlib.cat", "linux-kernel.bell", "linux-kernel.cat"]
    assert "lkmmv2" in model.program.variants
    assert load_cat(LKMM / "linux-kernel.cat").files == model.files
    assert model.allows_porf_cycles and not model.acquire_orders_later


_BUILTINS: dict[type, set[str]] = {
    Load: {"load"},
    Store: {"store"},
    Fence: {"fence"},
    SrcuSync: {"srcu"},
    Lock: {"lock"},
    Unlock: {"unlock"},
    TryLock: {"trylock"},
    IsLocked: {"islocked"},
    Rmw: {"xchg", "cmpxchg", "atomic_op", "atomic_op_return", "atomic_fetch_op",
          "atomic_add_unless"},
}  # fmt: skip


def _args(params: tuple[str, ...]) -> list[Any]:
    return [1 for _ in params]


@NEEDS_LKMM
def test_pinlab_primitives_carry_the_def_annotations() -> None:
    """For each primitive of linux-kernel.def, pinlab's table yields the same
    operations with the tags that map (by :class:`TagMap`) to its annotations:
    the mapping from pinlab's events to the bell's tags is the .def's."""
    table = read_def(LKMM / "linux-kernel.def")
    tags = TagMap(table, frozenset())
    checked = 0
    for name, entry in table.entries.items():
        prim = PRIMITIVES.get(name)
        assert prim is not None, f"{name} of linux-kernel.def is not in pinlab's table"
        ops = prim.build(*_args(prim.params))
        assert len(ops) == len(entry.ops), name
        for op, want in zip(ops, entry.ops, strict=True):
            assert want.builtin in _BUILTINS[type(op)], (name, op, want)
            # (the explorers tag a synchronize_srcu() event "sync-srcu")
            tag = "sync-srcu" if isinstance(op, SrcuSync) else getattr(op, "tag", None)
            got = () if tag is None else (tags.annotation(str(tag)),)
            assert got == want.annotations, (name, op, want)
        checked += 1
    assert checked == len(table.entries) > 100
