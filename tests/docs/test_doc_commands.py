"""Every ``pinlab`` command shown in docs/*.md prints what the page says it prints.

The convention, for fenced code blocks (```` ``` ````) of ``docs/*.md``:

- a line ``$ pinlab ARGS`` is a command; the lines after it, up to the next
  line starting with ``$`` or the end of the block, are its output (standard
  output and standard error, interleaved as a terminal shows them);
- a line that is just ``...`` stands for any run of lines (none included);
- ``<!-- slow -->`` on the line right before the opening fence marks the
  block's commands as taking more than about 10 s: their tests are
  ``@pytest.mark.slow``;
- ``<!-- file: NAME -->`` on the line right before the opening fence makes
  the block a file: it is written as ``NAME`` into the directory the page's
  commands run in (docs/scenarios.md's ``race.py``), as a reader would save it.

Each command runs in-process on ``pinlab.cli.app`` with typer's CliRunner (as
``tests/litmus/test_examples.py`` runs the README's litmus commands), in a
fresh temporary directory holding symlinks to the repository's ``docs`` and
``examples``, so that ``examples/litmus/*.litmus`` resolves (globs are expanded
as a shell would) and files a command writes stay out of the tree; and with
``PINLAB_CACHE_DIR`` set to an empty directory, so that ``pinlab check``
computes every verdict as on a first run instead of reading the results cache.  A command
that reads a file written by an earlier command of the same page (through
``--save FILE`` or ``--dot FILE``) first re-runs that command, unchecked.
Output is not a terminal: rich renders 120 columns.

Before comparing, both the expected and the actual output are normalised,
and only as follows:

1. trailing whitespace is stripped from every line; blank lines at the start
   and the end of the output are dropped;
2. a duration -- a decimal number followed by ``s`` or `` s`` that ends a
   word (``0.53 s``, ``4.2 s:``, ``3.75 s)``) -- becomes ``<T> s``; so does
   the value of a JSON ``"seconds"`` field, and the number ending herd7's
   ``Time NAME 0.04`` line;
3. a line number in the model's source (``fork.py:135``) becomes
   ``fork.py:<N>``: it moves with every edit of ``src/pinlab/kernel/``;
4. after a line's leading indentation, a run of spaces counts as one space
   and a run of ``─`` as one ``─``, since a longer duration widens a table
   column.

Counts (events, executions, states, witnesses), verdicts, values and the
order of the lines are compared exactly.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pinlab.cli import app

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
SLOW_MARK = "<!-- slow -->"
FILE_MARK = re.compile(r"^<!-- file: ([\w.-]+) -->$")
WRITES = ("--save", "--dot", "-o", "--output")  # options whose value is a file written


@dataclass(frozen=True)
class Command:
    page: str  # "cli.md"
    line: int  # the line of ``$ pinlab ...``, 1-based
    args: tuple[str, ...]  # after "pinlab"
    expected: tuple[str, ...]
    slow: bool

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    def writes(self) -> set[str]:
        return {v for k, v in zip(self.args, self.args[1:], strict=False) if k in WRITES}


def commands_of(page: Path) -> list[Command]:
    """The ``$ pinlab`` commands of ``page``'s fenced code blocks, in page order."""
    out: list[Command] = []
    lines = page.read_text().splitlines()
    fence: str | None = None  # the opening fence's indentation, inside a block
    slow = False
    current: tuple[int, list[str], list[str]] | None = None  # (line, args, output)

    def close() -> None:
        nonlocal current
        if current is not None:
            line, args, output = current
            out.append(Command(page.name, line, tuple(args), tuple(output), slow))
            current = None

    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if stripped.startswith("```"):
            if fence is None:
                fence = raw[: len(raw) - len(raw.lstrip())]
                slow = number >= 2 and lines[number - 2].strip() == SLOW_MARK
            else:
                close()
                fence = None
            continue
        if fence is None:
            continue
        text = raw.removeprefix(fence)
        if text.startswith("$"):
            close()
            words = shlex.split(text[1:])
            if words[:1] == ["pinlab"]:
                current = (number, words[1:], [])
        elif current is not None:
            current[2].append(text)
    return out


def files_of(page: Path) -> dict[str, str]:
    """The blocks of ``page`` marked ``<!-- file: NAME -->``: NAME -> content."""
    out: dict[str, str] = {}
    lines = page.read_text().splitlines()
    for number, raw in enumerate(lines):
        m = FILE_MARK.match(raw.strip())
        if m is None or number + 1 >= len(lines) or not lines[number + 1].strip().startswith("```"):
            continue
        body: list[str] = []
        for line in lines[number + 2 :]:
            if line.strip().startswith("```"):
                break
            body.append(line)
        out[m.group(1)] = "\n".join(body) + "\n"
    return out


COMMANDS = [c for page in sorted(DOCS.glob("*.md")) for c in commands_of(page)]

_DURATION = re.compile(r"\b\d+(?:\.\d+)? ?s\b")
_SECONDS = re.compile(r'("seconds": )\d+(?:\.\d+)?(?:[eE][-+]?\d+)?')
_HERD_TIME = re.compile(r"^(Time \S+) \d+(?:\.\d+)?$")
_SOURCE_LINE = re.compile(r"\b(\w+\.py):\d+\b")


def normalise(text: str) -> list[str]:
    """The lines of ``text`` after rules 1-4 of the module docstring."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    out = []
    for line in lines:
        line = _HERD_TIME.sub(r"\1 <T>", line)
        line = _SECONDS.sub(r"\1<T>", line)
        line = _DURATION.sub("<T> s", line)
        line = _SOURCE_LINE.sub(r"\1:<N>", line)
        body = line.lstrip(" ")
        indent = line[: len(line) - len(body)]
        out.append(indent + re.sub("─+", "─", re.sub(" +", " ", body)))
    return out


def matches(expected: list[str], actual: list[str]) -> bool:
    """``actual`` equals ``expected``, where a ``...`` line matches any run of lines."""
    # reachable[j]: expected[:i] can match actual[:j]
    reachable = [True] + [False] * len(actual)
    for want in expected:
        if want == "...":
            for j in range(1, len(actual) + 1):
                reachable[j] = reachable[j] or reachable[j - 1]
        else:
            reachable = [False] + [reachable[j] and actual[j] == want for j in range(len(actual))]
    return reachable[-1]


def _argv(args: tuple[str, ...], cwd: Path) -> list[str]:
    """``args`` with globs expanded against ``cwd``, as a shell would."""
    argv: list[str] = []
    for a in args:
        found = sorted(cwd.glob(a)) if any(c in a for c in "*?[") else []
        argv += [str(m.relative_to(cwd)) for m in found] if found else [a]
    return argv


def _run(command: Command, cwd: Path) -> str:
    result = CliRunner().invoke(app, _argv(command.args, cwd))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.output


def _prerequisites(command: Command) -> list[Command]:
    """The earlier commands of the same page that write a file ``command`` names."""
    earlier = [c for c in COMMANDS if c.page == command.page and c.line < command.line]
    return [c for c in earlier if c.writes() & set(command.args)]


@pytest.mark.parametrize(
    "command",
    [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.slow else []) for c in COMMANDS],
)
def test_doc_command_prints_what_the_page_shows(
    command: Command, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("docs", "examples"):
        (tmp_path / name).symlink_to(REPO / name)
    for name, text in files_of(DOCS / command.page).items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PINLAB_CACHE_DIR", str(tmp_path / "cache"))
    for earlier in _prerequisites(command):
        _run(earlier, tmp_path)
    output = _run(command, tmp_path)
    expected, actual = normalise("\n".join(command.expected)), normalise(output)
    assert matches(expected, actual), (
        f"docs/{command.id}: `pinlab {shlex.join(command.args)}` printed (normalised):\n"
        + "\n".join(actual)
        + "\n\nthe page shows (normalised):\n"
        + "\n".join(expected)
    )


def test_the_pages_show_commands() -> None:
    assert {c.page for c in COMMANDS} >= {"cli.md"}
    # (a command that writes its output to a file may show none)
    assert all(c.expected or c.writes() for c in COMMANDS), "a command without output shown"


def test_the_convention(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Text.\n\n<!-- slow -->\n```\n$ pinlab check x --model sc\nout 1\n...\n"
        "$ pinlab explain 'x y' --save r.json\nout 2\n$ ls\nnot output\n```\n\n"
        "  ```\n  $ pinlab replay r.json\n  out 3\n  ```\n"
    )
    got = commands_of(page)
    assert [(c.line, c.args, c.expected, c.slow) for c in got] == [
        (5, ("check", "x", "--model", "sc"), ("out 1", "..."), True),
        (8, ("explain", "x y", "--save", "r.json"), ("out 2",), True),
        (15, ("replay", "r.json"), ("out 3",), False),
    ]
    assert got[1].writes() == {"r.json"}


def test_the_normalisation_and_the_wildcard() -> None:
    assert normalise("  7 scenarios in 9.5 s: all  as   expected  \n\n") == [
        "  7 scenarios in <T> s: all as expected"
    ]
    assert normalise('{"seconds": 0.116}\nTime SB 0.01\n in f()  fork.py:135') == [
        '{"seconds": <T>}',
        "Time SB <T>",
        " in f() fork.py:<N>",
    ]
    assert normalise(" ──────── ") == [" ─"]
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "b"], ["a", "b"])
    assert not matches(["a", "...", "d"], ["a", "b", "c"])
    assert not matches(["a", "b"], ["a", "b", "c"])


def test_the_tutorials_file_is_the_example() -> None:
    """docs/scenarios.md shows examples/scenarios/race.py as it is."""
    shown = files_of(DOCS / "scenarios.md")["race.py"]
    assert shown == (REPO / "examples" / "scenarios" / "race.py").read_text()
