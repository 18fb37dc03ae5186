"""Fuzzing the litmus front end: whatever a file holds, ``run_file`` (what
``pinlab litmus`` runs for each file) ends in time with a verdict or one
``file[:line:col]: message`` line, never another exception.

Two targets, each fed 2,000 inputs by CI (the derandomized "ci" profile of
tests/conftest.py, so the same inputs on every run; the grammar-based tests
are marked slow, so the quick run of the suite leaves them to CI):

- grammar-based: small valid tests (two or three threads of ``READ_ONCE``,
  ``WRITE_ONCE``, acquire/release, fences, arithmetic, ``if``/``else`` and an
  ``exists`` clause), run as they are (they must give a verdict) and
  mutated token by token: tokens dropped, duplicated, swapped, or replaced by
  ones from a vocabulary of trouble (``for``, ``goto``, ``lock``, a literal
  past 64 bits, unbalanced brackets and comments, ...);
- byte-level: random bytes, and random byte edits of examples/litmus/.

Every input runs with a time limit of :data:`TIME_LIMIT` seconds and must end
within :data:`SLACK` seconds after it (parsing and lowering are not under the
limit, but on these small inputs they take milliseconds).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Final

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from pinlab.litmus.errors import LitmusError
from pinlab.litmus.run import LitmusRun, run_file
from tests.fuzzing import fuzz_settings

TIME_LIMIT: Final = 1.0
SLACK: Final = 1.0

REPO: Final = Path(__file__).resolve().parents[2]
EXAMPLES: Final = sorted((REPO / "examples" / "litmus").glob("*.litmus"))
EXAMPLE_BYTES: Final = [p.read_bytes() for p in EXAMPLES]

LOCS: Final = ("x", "y", "z")
REGS: Final = ("r0", "r1", "r2")

# Tokens that have broken, or could break, a front end.
TROUBLE: Final = (
    "for", "goto", "do", "while", "if", "else", "lock", "unlock", "int", "void", "P0", "P7",
    "exists", "forall", "~", "/\\", "\\/", "=>", "filter", "locations", "(*", "*)", "/*", "*/",
    "//", '"', "{", "}", "(", ")", "[", "]", ";", ",", ":", "*", "&", "=", "==", "<<", ">>",
    "/", "%", "-", "!", "?", "0", "-1", "0x", "0xffffffffffffffff", "18446744073709551616",
    "1" + "0" * 30, "smp_mb", "READ_ONCE", "WRITE_ONCE", "spin_lock", "xchg", "r9", "\n",
    "\t", "\\", "\u00e9", "\ufeff",
)  # fmt: skip

TOKEN: Final = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*|0[xX][0-9a-fA-F]+|[0-9]+|/\\|\\/|\(\*|\*\)|/\*|\*/|//"
    r"|<<|>>|[-+*/%&|^!=<>]=|&&|\|\||\s+|."
)


@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one file every input is written to, in turn."""
    return tmp_path_factory.mktemp("fuzz") / "input.litmus"


def _run(path: Path, data: bytes) -> LitmusRun:
    """Run ``data`` as a litmus file: no exception but LitmusError, no overrun, a one-line error."""
    path.write_bytes(data)
    start = time.perf_counter()
    try:
        run = run_file(path, time_limit=TIME_LIMIT)
    except LitmusError as err:  # (run_file reports errors in the run; this is allowed too)
        run = LitmusRun(str(path), "lkmm", None, err, None)
    elapsed = time.perf_counter() - start
    assert elapsed < TIME_LIMIT + SLACK, (elapsed, data)
    if run.error is not None:
        message = str(run.error)
        assert message.startswith(f"{path}:"), message
        assert "\n" not in message and "Traceback" not in message, message
        assert "internal error" not in message, (message, data)  # (run_file's last resort)
        event(_kind(run.error.message))
    else:
        assert run.verdict is not None
        event("verdict")
    return run


def _kind(message: str) -> str:
    """What kind of error ``message`` is, for ``--hypothesis-show-statistics``."""
    return "error: " + re.sub(r"'[^']*'|\b\w*\d\w*\b", "_", message.split(";")[0])[:60]


# ------------------------------------------------------------ grammar-based


@st.composite
def _expr(draw: st.DrawFn, depth: int = 0) -> str:
    """A value: a literal, a register, or an operator on two values."""
    kind = draw(st.sampled_from(["int", "reg", "op"] if depth < 2 else ["int", "reg"]))
    if kind == "int":
        return str(draw(st.integers(0, 3)))
    if kind == "reg":
        return draw(st.sampled_from(REGS))
    op = draw(st.sampled_from(["+", "-", "*", "&", "|", "^", "==", "!=", "<", "&&", "||"]))
    return f"({draw(_expr(depth + 1))} {op} {draw(_expr(depth + 1))})"


@st.composite
def _stmt(draw: st.DrawFn, depth: int = 0) -> str:
    """One statement of a process."""
    loc, reg = draw(st.sampled_from(LOCS)), draw(st.sampled_from(REGS))
    kinds = ["read", "write", "acquire", "release", "fence", "assign", "xchg"]
    kind = draw(st.sampled_from([*kinds, "if"] if depth < 2 else kinds))
    if kind == "read":
        return f"{reg} = READ_ONCE(*{loc});"
    if kind == "write":
        return f"WRITE_ONCE(*{loc}, {draw(_expr())});"
    if kind == "acquire":
        return f"{reg} = smp_load_acquire({loc});"
    if kind == "release":
        return f"smp_store_release({loc}, {draw(_expr())});"
    if kind == "fence":
        return draw(st.sampled_from(["smp_mb();", "smp_rmb();", "smp_wmb();"]))
    if kind == "assign":
        return f"{reg} = {draw(_expr())};"
    if kind == "xchg":
        return f"{reg} = xchg({loc}, {draw(st.integers(0, 2))});"
    then = " ".join(draw(st.lists(_stmt(depth + 1), min_size=1, max_size=2)))
    other = ""
    if draw(st.booleans()):
        other = " else { " + " ".join(draw(st.lists(_stmt(depth + 1), max_size=2))) + " }"
    return f"if ({draw(_expr())}) {{ {then} }}{other}"


@st.composite
def _atom(draw: st.DrawFn, nprocs: int) -> str:
    value = draw(st.integers(0, 3))
    if draw(st.booleans()):
        return f"{draw(st.integers(0, nprocs - 1))}:{draw(st.sampled_from(REGS))}={value}"
    return f"{draw(st.sampled_from(LOCS))}={value}"


@st.composite
def valid_tests(draw: st.DrawFn) -> str:
    """A small test herd7 would run: 2-3 processes of 1-4 statements, an exists clause."""
    nprocs = draw(st.integers(2, 3))
    params = ", ".join(f"int *{loc}" for loc in LOCS)
    decls = "".join(f"\tint {r} = 0;\n" for r in REGS)
    procs = []
    for p in range(nprocs):
        body = "".join(f"\t{s}\n" for s in draw(st.lists(_stmt(), min_size=1, max_size=4)))
        procs.append(f"P{p}({params})\n{{\n{decls}\n{body}}}\n")
    atoms = draw(st.lists(_atom(nprocs), min_size=1, max_size=3))
    join = draw(st.sampled_from([" /\\ ", " \\/ "]))
    return "C fuzz\n\n{}\n\n" + "\n".join(procs) + f"\nexists ({join.join(atoms)})\n"


@st.composite
def mutated_tests(draw: st.DrawFn) -> str:
    """A valid test with 1-4 token edits after its header line: drop, duplicate, swap, or
    put in a trouble token."""
    header, rest = draw(valid_tests()).split("\n", 1)
    tokens = TOKEN.findall(rest)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(tokens) - 1))
        edit = draw(st.sampled_from(["drop", "dup", "swap", "trouble", "trouble"]))
        if edit == "drop":
            del tokens[i]
        elif edit == "dup":
            tokens.insert(i, tokens[draw(st.integers(0, len(tokens) - 1))])
        elif edit == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        else:
            tokens[i : i + draw(st.integers(0, 1))] = [draw(st.sampled_from(TROUBLE))]
        if not tokens:
            break
    return header + "\n" + "".join(tokens)


@pytest.mark.slow
@fuzz_settings(400)
@given(text=valid_tests())
def test_valid_tests_give_a_verdict(fuzz_file: Path, text: str) -> None:
    run = _run(fuzz_file, text.encode())
    assert run.error is None, (str(run.error), text)


@pytest.mark.slow
@fuzz_settings(1600)
@given(text=mutated_tests())
def test_mutated_tests_give_a_verdict_or_one_error_line(fuzz_file: Path, text: str) -> None:
    _run(fuzz_file, text.encode())


# --------------------------------------------------------------- byte-level


# Mostly the bytes of C text, so that edits reach past the UTF-8 and NUL checks.
TEXT_BYTES: Final = st.one_of(st.integers(0x20, 0x7E), st.sampled_from(b"\t\n{}()*;"))
ANY_BYTE: Final = st.one_of(TEXT_BYTES, TEXT_BYTES, TEXT_BYTES, st.integers(0, 255))


@st.composite
def mutated_examples(draw: st.DrawFn) -> bytes:
    """An example of examples/litmus/ with 1-8 byte edits: set, insert, delete, copy."""
    data = bytearray(draw(st.sampled_from(EXAMPLE_BYTES)))
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["set", "insert", "delete", "copy"]))
        if edit == "set" and i < len(data):
            data[i] = draw(ANY_BYTE)
        elif edit == "insert":
            data[i:i] = bytes(draw(st.lists(ANY_BYTE, min_size=1, max_size=4)))
        elif edit == "delete":
            del data[i : i + draw(st.integers(1, 16))]
        else:
            j = draw(st.integers(0, len(data)))
            data[i:i] = data[j : j + draw(st.integers(1, 32))]
    return bytes(data)


@fuzz_settings(500)
@given(data=st.binary(max_size=512))
def test_random_bytes_give_one_error_line(fuzz_file: Path, data: bytes) -> None:
    _run(fuzz_file, data)


@fuzz_settings(500)
@given(data=st.binary(max_size=256))
def test_random_bytes_after_a_header_give_one_error_line(fuzz_file: Path, data: bytes) -> None:
    _run(fuzz_file, b"C random\n\n{}\n\n" + data)


@fuzz_settings(1000)
@given(data=mutated_examples())
def test_mutated_examples_give_a_verdict_or_one_error_line(fuzz_file: Path, data: bytes) -> None:
    _run(fuzz_file, data)
