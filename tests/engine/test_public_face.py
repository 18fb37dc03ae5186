"""pinlab.engine's public face: the other packages import only what it exports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pinlab.engine as engine

SRC = Path(__file__).resolve().parents[2] / "src" / "pinlab"
CLIENTS = sorted(
    [p for d in ("kernel", "litmus", "scenarios", "report") for p in (SRC / d).rglob("*.py")]
    + list(SRC.glob("*.py")),
)


def _engine_imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, name) of every import from pinlab.engine in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pinlab.engine"):
            out += [(node.lineno, node.module or "", a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [
                (node.lineno, a.name, "") for a in node.names if a.name.startswith("pinlab.engine")
            ]
    return out


@pytest.mark.parametrize("path", CLIENTS, ids=lambda p: str(p.relative_to(SRC)))
def test_clients_use_the_public_face(path: Path) -> None:
    bad = [
        f"{path.relative_to(SRC)}:{line}: {module} {name}"
        for line, module, name in _engine_imports(path)
        if module != "pinlab.engine" or name not in engine.__all__
    ]
    assert not bad, bad


def test_the_public_face_is_what_it_says() -> None:
    assert len(set(engine.__all__)) == len(engine.__all__)
    for name in engine.__all__:
        assert hasattr(engine, name), name
        assert ":" in (engine.__doc__ or "")
    # Every exported name is mentioned in the table of contents, or is an operation.
    doc = engine.__doc__ or ""
    ops = set(engine.ops.__all__) if hasattr(engine.ops, "__all__") else set()
    missing = [n for n in engine.__all__ if n not in doc and n not in ops]
    assert not missing, missing


def test_the_face_catches_an_internal_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from pinlab.engine.explore import explore\nfrom pinlab.engine import Loc\n")
    found = _engine_imports(bad)
    assert [(m, n) for _, m, n in found] == [
        ("pinlab.engine.explore", "explore"),
        ("pinlab.engine", "Loc"),
    ]
    assert [n for _, m, n in found if m != "pinlab.engine" or n not in engine.__all__] == [
        "explore"
    ]
