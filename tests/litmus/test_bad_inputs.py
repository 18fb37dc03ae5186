"""Bad litmus input through the command line: one error line naming ``file:line:col``
(where there is one) and what was expected, a non-zero exit, never a traceback.

The small cases are files in tests/litmus/bad/; the big or binary ones (a
5,000-digit literal, 200 nested ``if``, a 1 MiB file, NUL bytes, ...) are
built here.  The bounds they cross are documented in pinlab.litmus.bounds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest
from typer.testing import CliRunner

from pinlab.cli import app
from pinlab.litmus.bounds import MAX_CHAIN, MAX_FILE_BYTES, MAX_NESTING
from pinlab.litmus.run import run_file

BAD: Final = Path(__file__).resolve().parent / "bad"
RUNNER: Final = CliRunner()

# file in tests/litmus/bad/ -> what its error line says after "PATH:"
EXPECTED: Final = {
    "bigint_write.litmus": "9:17: integer literal 18446744073709551616 does not fit in 64 bits; "
    "expected at most 18446744073709551615 (0xffffffffffffffff)",
    "bigint_init.litmus": "3:5: integer literal 0x10000000000000000 does not fit in 64 bits",
    "bigint_exists.litmus": "12:14: integer literal 99999999999999999999999 does not fit",
    "for_loop.litmus": "9:2: 'for' loops are not supported (herd7's C has none); "
    "expected a while loop",
    "goto.litmus": "7:2: 'goto' is not supported (herd7's C has none)",
    "do_while.litmus": "9:2: 'do' loops are not supported",
    "lock_param.litmus": "7:16: syntax error: 'lock' is a keyword of herd7's C, not a name; "
    "expected another name",
    "undeclared_pointer.litmus": "8:14: z is not a parameter of P0; declare it: P0(int *x, int *z)",
    "no_params.litmus": "7:14: x is not a parameter of P0; declare it: P0(int *x)",
    "void_value.litmus": "9:7: smp_mb() returns no value; expected it as a statement of its own",
    "nested_loops.litmus": "15:6: more than 4 while loops inside one another; expected at most 4",
    "brace_in_comment.litmus": "8:1: P0's body never closes when its braces are counted as "
    "herd7 does (in comments too)",
    "mul_overflow.litmus": "9:10: integer overflow: 4294967296 * 4294967296 does not fit in 64",
    "shift_overflow.litmus": "9:10: integer overflow: 1 << 64 does not fit in 64 bits",
    "division_by_zero.litmus": "9:9: division by zero",
    "empty.litmus": "1:1: expected a header line 'C NAME'",
    "not_c.litmus": "1:1: not a C litmus test (architecture 'X86')",
    "unterminated_comment.litmus": "3:1: unterminated comment '(*'",
    "unknown_primitive.litmus": "7:2: unknown primitive 'smp_memb' (not in linux-kernel.def)",
    "missing_brace.litmus": "9:13: syntax error: unexpected end of file",
}


def _refused(path: Path | str, expected: str) -> None:
    """``pinlab litmus path`` fails with the one error line ``path: expected...``."""
    result = RUNNER.invoke(app, ["litmus", str(path)])
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # (no other exception)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}:{expected}"), (lines[0], expected)


def test_every_bad_file_has_an_expected_message() -> None:
    assert {p.name for p in BAD.glob("*.litmus")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_is_refused_with_one_line(name: str) -> None:
    _refused(BAD / name, EXPECTED[name])


# ----------------------------------------------------------- built inputs

MP: Final = """C MP

{INIT}

P0(int *x, int *y)
{
\tWRITE_ONCE(*x, VALUE);
\tWRITE_ONCE(*y, 1);
}

P1(int *x, int *y)
{
\tint r0;
\tint r1;

\tr0 = READ_ONCE(*y);
\tr1 = READ_ONCE(*x);
BODY}

exists (COND)
"""


def _mp(init: str = "", value: str = "1", body: str = "", cond: str = "1:r0=1 /\\ 1:r1=0") -> str:
    """The MP test with its initial state, P0's first value, the end of P1 or the
    condition replaced."""
    text = MP.replace("INIT", init).replace("VALUE", value).replace("BODY", body)
    return text.replace("COND", cond)


HUGE: Final = "1" + "0" * 5000


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (_mp(value=HUGE), "7:17"),
        (_mp(init=f"x={HUGE};"), "3:4"),
        (_mp(cond=f"1:r1={HUGE}"), "20:14"),
    ],
    ids=["body", "init", "exists"],
)
def test_a_5000_digit_literal_is_refused_where_it_is(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "huge.litmus"
    path.write_text(text)
    _refused(path, f"{where}: integer literal 1000000000...000000 (5001 characters) does not fit")


def test_200_nested_ifs_are_refused_at_the_first_too_deep(tmp_path: Path) -> None:
    body = "".join("\tif (r0) {\n" for _ in range(200)) + "\tr1 = 1;\n" + "\t}\n" * 200
    path = tmp_path / "deep.litmus"
    path.write_text(_mp(body=body))
    first_if = 18
    _refused(path, f"{first_if + MAX_NESTING}:2: nested too deeply: more than {MAX_NESTING} levels")


def test_ifs_nested_up_to_the_limit_run(tmp_path: Path) -> None:
    depth = MAX_NESTING - 3  # (the innermost statement, its '=' and its operands are levels too)
    body = "".join("\tif (r0) {\n" for _ in range(depth)) + "\tr1 = 1;\n" + "\t}\n" * depth
    path = tmp_path / "deep.litmus"
    path.write_text(_mp(body=body))
    run = run_file(path)
    assert run.error is None and run.verdict is not None


@pytest.mark.parametrize(
    "expr", ["-" * 500 + "r0", "(" * 500 + "r0" + ")" * 500, " + ".join(["r0"] * 500)]
)
def test_deep_expressions_are_refused_or_run(tmp_path: Path, expr: str) -> None:
    path = tmp_path / "deep.litmus"
    path.write_text(_mp(body=f"\tr1 = {expr};\n"))
    result = RUNNER.invoke(app, ["litmus", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    if "(" in expr:  # (parentheses make no tree)
        assert result.exit_code == 0, result.output
    else:
        assert "nested too deeply" in result.stderr


def test_a_deeply_negated_condition_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.litmus"
    path.write_text(_mp(cond="~" * 300 + "1:r0=1"))
    _refused(path, "20:309: nested too deeply")  # (at the atom: a '~' has no position of its own)


def test_a_long_condition_is_one_level(tmp_path: Path) -> None:
    path = tmp_path / "long.litmus"
    path.write_text(_mp(cond=" /\\ ".join(["1:r0=1", "1:r1=0"] * 300)))
    run = run_file(path)
    assert run.error is None and run.verdict is not None
    assert run.verdict.observation == "Sometimes"


# (r0 = READ_ONCE(*y) is the first operation of the chain, each r0 = r0 + r1 one more)


def test_a_long_chain_of_operations_is_refused(tmp_path: Path) -> None:
    body = "".join("\tr0 = r0 + r1;\n" for _ in range(MAX_CHAIN))
    path = tmp_path / "chain.litmus"
    path.write_text(_mp(body=body))
    line = 17 + MAX_CHAIN
    _refused(path, f"{line}:10: this value is computed through more than {MAX_CHAIN} operations")


def test_a_chain_up_to_the_limit_runs(tmp_path: Path) -> None:
    body = "".join("\tr0 = r0 + r1;\n" for _ in range(MAX_CHAIN - 1))
    path = tmp_path / "chain.litmus"
    path.write_text(_mp(body=body))
    run = run_file(path)
    assert run.error is None and run.verdict is not None


def test_a_1_mib_file_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "big.litmus"
    path.write_text(_mp(body="\tr1 = 1;\n" * (1 << 17)))
    assert path.stat().st_size > 1 << 20
    _refused(path, f" file too large: more than {MAX_FILE_BYTES} bytes; expected a litmus test")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_is_refused() -> None:
    _refused("/dev/zero", f" file too large: more than {MAX_FILE_BYTES} bytes")


@pytest.mark.slow  # (parsing 256 KiB takes a few seconds)
def test_a_file_just_under_the_limit_runs_without_recursion(tmp_path: Path) -> None:
    """Thousands of statements in a row: lists, not recursion, all the way down."""
    head, tail = "C big\n\n{}\n\nP0(int *x)\n{\n", "}\n\nexists (x=1)\n"
    stmt = "\tWRITE_ONCE(*x, 1);\n"
    path = tmp_path / "big.litmus"
    path.write_text(head + stmt * ((MAX_FILE_BYTES - len(head) - len(tail)) // len(stmt)) + tail)
    run = run_file(path, time_limit=0.5)
    assert run.error is None and run.verdict is not None  # (the time limit may stop it)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_mp().encode().replace(b"READ_ONCE(*x)", b"READ_ONCE(*x\0)"), "17:19: NUL byte"),
        (_mp().encode().replace(b"C MP", b"C M\xffP"), "1:4: invalid UTF-8 (byte 0xff)"),
        ("C MP\n(* caf\u00e9 *)\n".encode("latin-1"), "2:7: invalid UTF-8 (byte 0xe9)"),
    ],
    ids=["nul", "ff", "latin-1"],
)
def test_binary_files_are_refused(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "binary.litmus"
    path.write_bytes(data)
    _refused(path, expected)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path / "nothing.litmus", " cannot read: No such file or directory")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, " cannot read: Is a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.litmus"
    path.write_text(_mp())
    path.chmod(0)
    result = RUNNER.invoke(app, ["litmus", str(path)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "secret.litmus" in result.stderr


def test_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    """The command itself, not the test runner: stderr is the one error line."""
    path = tmp_path / "huge.litmus"
    path.write_text(_mp(value=HUGE))
    done = subprocess.run(
        [sys.executable, "-c", "from pinlab.cli import main; main()", "litmus", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert done.stderr.splitlines() == [
        f"{path}:7:17: integer literal 1000000000...000000 (5001 characters) does not fit in "
        "64 bits; expected at most 18446744073709551615 (0xffffffffffffffff)"
    ]


# An atomic operation on a location that holds a pointer, or adding a pointer:
# herd7 moves the pointer (y + 1 is "y+1") and gives a verdict; so does pinlab
# (engine/ops.py apply_arith).  herd7 7.58+1's states and verdicts:
RMW_ON_POINTERS: Final = [
    ("{ x=y; }\n\nP0(int *x, int *y)\n{\n\tatomic_add(1, x);\n}\n\nexists (x=y)\n",
     "[x]=y+1;", "Never 0 1"),
    ("{}\n\nP0(int *x, int *y)\n{\n\tatomic_add(y, x);\n}\n\nexists (x=1)\n",
     "[x]=y;", "Never 0 1"),
    ("{ x=y; }\n\nP0(int *x, int *y)\n{\n\tint r0;\n\tr0 = atomic_fetch_add(1, x);\n}\n\n"
     "exists (0:r0=y)\n", "0:r0=y;", "Always 1 0"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "state", "observation"),
    RMW_ON_POINTERS,
    ids=["memory-holds-pointer", "adds-pointer", "fetch-add-returns-pointer"],
)
def test_atomic_arithmetic_on_pointers_as_herd7(
    tmp_path: Path, text: str, state: str, observation: str
) -> None:
    path = tmp_path / "rmw.litmus"
    path.write_text("C rmw-on-pointers\n\n" + text)
    result = RUNNER.invoke(app, ["litmus", str(path)])
    assert result.exit_code == 0, result.output
    assert state in result.stdout.splitlines()
    assert f"Observation rmw-on-pointers {observation}" in result.stdout
