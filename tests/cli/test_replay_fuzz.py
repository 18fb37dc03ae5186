"""Fuzzing ``pinlab replay FILE``: whatever the file holds, the replay ends in time
with the saved trace (exit 0) or one line ``pinlab replay: FILE: what`` on stderr
(exit 2), never a traceback.

**The corpus of bad files.**  A replay file carries the fingerprint of the model
that saved it (a hash of pinlab's source), so a file committed today is refused
tomorrow, after any edit to the source, with "the model changed" -- before the
check it was meant to exercise.  So the corpus is made at run time: the module
saves one good file (``pinlab explain --save``, once), and each kind of bad file
in :data:`KINDS` is a small named mutation of it, with the message it must give.
tests/cli/bad_replays/ holds, besides, the kinds that :func:`replay.load
<pinlab.scenarios.replay.load>` refuses (not JSON, a wrong version, an edit the
checksum catches, a field of the wrong type, ...): load never compares the
fingerprint and never looks at the catalogue, so those files give their message
whatever the model becomes.  They were written once by the same mutation
functions from a saved file; both copies of such a kind, the committed one and
the fresh one, must give its message.  The kinds that get past load (an unknown
scenario, a missing scenario file, an unknown barrier, choices left over, ...)
are only ever made fresh.

**The fuzzing.**  Two targets, each fed 2,000 inputs in CI (the derandomized "ci"
profile of tests/conftest.py; most of them in tests marked slow, and a small
unmarked share for the quick run):

- JSON-level: the saved object with 1-3 edits -- a field changed, removed or
  added, a value of another type, the choices appended to, dropped, changed (to a
  negative, huge, float or bool value), the digests or the checksum edited, raw
  JSON text for a value (NaN, 1e400, a 4,400-digit integer, lists a thousand
  deep) -- written as it is or sealed again with replay.py's own digest and
  checksum;
- byte-level: the saved file's bytes with 1-8 edits (set, flip, insert, delete,
  copy, truncate, a digit changed), and random bytes.

Most inputs are refused in a millisecond or two, before any exploration, and a
replay of lazyfree-vs-gup-fast takes about 0.1 s: the module runs in about 35 s
of one core, the tests marked slow included.

What each input must do (:func:`_replay`): exit 0 or 2 and no other exception;
nothing past :data:`LIMIT` seconds (a bound, not a benchmark); for exit 2, no
stdout and one line on stderr that names the file (but for a sealed ``origin``
with a line break in it: see :func:`test_an_origin_with_a_newline_gives_one_line`).
Exit 0 only for a file that means what the saved one meant: an unsealed input
must parse to the saved object (only whitespace, key order and such may differ:
the checksum covers every field); a sealed one is a file pinlab could have
written, and its replay must show the outcome it records (it may be another
execution, or the same scenario without a barrier its paths never run).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import pytest
import typer.main
import typer.testing
from hypothesis import currently_in_test_context, event, given
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from pinlab.cli import app
from pinlab.scenarios import replay as replay_file
from pinlab.scenarios.barriers import BARRIERS
from tests.fuzzing import fuzz_settings

RUNNER: Final = CliRunner()
# About 0.1 s a replay (fork-vs-pin-fast takes 0.4 s): inputs that get as far as the
# exploration cost little more than those refused at once.
SCENARIO: Final = ("lazyfree-vs-gup-fast", "--era", "v5.11", "--model", "sc")
LIMIT: Final = 10.0  # seconds an input may take, at most
BAD: Final = Path(__file__).resolve().parent / "bad_replays"
MISSING: Final = "/nonexistent/pinlab-fuzz/race.py"
EXPECTED: Final = replay_file._EXPECTED  # (what the "not JSON" kinds say is expected)
RESAVE: Final = "explain it again with --save to write a new one"


# ------------------------------------------------------------------ the good file


@pytest.fixture(scope="module", autouse=True)
def _one_command() -> Iterator[None]:
    """CliRunner.invoke builds the click command of the app anew on each call: 7 ms,
    most of what an input refused at once costs.  Here it is built once, as pinlab's
    main() builds it once a process (typer.testing's _get_command, if it has one)."""
    with pytest.MonkeyPatch.context() as mp:
        command = functools.cache(typer.main.get_command)
        mp.setattr(typer.testing, "_get_command", command, raising=False)
        yield


@dataclasses.dataclass(frozen=True)
class Saved:
    path: Path
    data: bytes  # the file as saved
    obj: dict[str, Any]  # ... as JSON
    rf: replay_file.ReplayFile  # ... as replay.load reads it
    work: Path  # a directory for the inputs


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Saved]:
    """One counterexample saved by ``pinlab explain --save``, for the whole module."""
    work = tmp_path_factory.mktemp("replay-fuzz")
    path = work / "good.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PINLAB_CACHE_DIR", str(work / "cache"))
        result = RUNNER.invoke(app, ["explain", *SCENARIO, "--save", str(path)])
    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    good = Saved(path, data, json.loads(data), replay_file.load(path), work)
    replayed = _replay(good.path, data, good, sealed=False)
    assert replayed.exit_code == 0, replayed.output  # (the good file replays)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)  # (a relative "origin" names a file in here, not in the checkout)
        yield good


# ------------------------------------------------------------------ writing files


@contextmanager
def _big_ints() -> Iterator[None]:
    """Python's str() of an int past 4,300 digits, allowed for a while (to write one)."""
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(old)


def _seal(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` sealed again as replay.dumps seals a file: the digest of each field,
    then the checksum (replay.py's own functions)."""
    fields = replay_file._fields(obj)
    with _big_ints():
        sealed = {**fields, "digests": {k: replay_file._digest(v) for k, v in fields.items()}}
        sealed["checksum"] = replay_file._checksum(sealed)
    return sealed


def _text(obj: object) -> bytes:
    """``obj`` as a file: JSON, one key a line, ASCII (non-ASCII and surrogates escaped)."""
    with _big_ints():
        return (json.dumps(obj, indent=1) + "\n").encode()


def _dumps(rf: replay_file.ReplayFile) -> bytes:
    return replay_file.dumps(rf).encode()


# ------------------------------------------------------------- the corpus of kinds


@dataclasses.dataclass(frozen=True)
class Kind:
    mutate: Callable[[Saved], bytes]  # the bad file, from the good one
    message: str  # what its line on stderr says (after "pinlab replay: FILE: ")
    committed: bool  # in tests/cli/bad_replays/ too (refused by replay.load)


def _not_json(good: Saved) -> bytes:
    return good.data.replace(b"{", b"pinlab replay file:", 1)


def _json_list(good: Saved) -> bytes:
    return _text([good.obj])


def _empty(good: Saved) -> bytes:
    return b""


def _binary(good: Saved) -> bytes:
    return b"\xff\xfe\x00\x01\x89PNG\r\n\x1a\n" + bytes(range(256))


def _wrong_format(good: Saved) -> bytes:
    return _text(_seal(good.obj | {"format": "pinlab-litmus"}))


def _version_string(good: Saved) -> bytes:
    return _text(_seal(good.obj | {"version": "2"}))


def _version_1(good: Saved) -> bytes:
    """As pinlab wrote it before the checksum: no digests, no checksum."""
    return _text(replay_file._fields(good.obj) | {"version": 1})


def _version_3(good: Saved) -> bytes:
    return _text(_seal(good.obj | {"version": 3}))


def _missing_checksum(good: Saved) -> bytes:
    return _text({k: v for k, v in good.obj.items() if k != "checksum"})


def _edited_era(good: Saved) -> bytes:
    return _text(good.obj | {"era": "v5.9"})


def _edited_outcome(good: Saved) -> bytes:
    return _text(good.obj | {"outcome": "nothing happened"})


def _edited_parts(good: Saved) -> bytes:
    return _text(good.obj | {"parts": good.obj["parts"] | {"kernel": "0" * 64}})


def _edited_digests(good: Saved) -> bytes:
    return _text(good.obj | {"digests": good.obj["digests"] | {"era": "0" * 16}})


def _removed_outcome(good: Saved) -> bytes:
    return _text({k: v for k, v in good.obj.items() if k != "outcome"})


def _added_field(good: Saved) -> bytes:
    return _text(good.obj | {"comment": "an extra field"})


def _negative_choice(good: Saved) -> bytes:
    return _dumps(dataclasses.replace(good.rf, choices=(*good.rf.choices[:-1], -1)))


def _choices_not_a_list(good: Saved) -> bytes:
    return _text(_seal(good.obj | {"choices": ",".join(map(str, good.rf.choices))}))


def _huge_choice(good: Saved) -> bytes:
    """A choice of 4,400 digits: JSON, but more digits than Python's int() reads from text
    (was a ValueError)."""
    return _text(_seal(good.obj | {"choices": [*good.rf.choices, 10**4400]}))


def _deep_lists(good: Saved) -> bytes:
    """A model of lists 2,000 deep: more than json.loads recurses (was a RecursionError)."""
    return good.data.replace(b'"sc"', b"[" * 2000 + b"]" * 2000, 1)


def _lone_surrogate(good: Saved) -> bytes:
    """A string with half a UTF-16 pair, as JSON may spell it (was a UnicodeEncodeError)."""
    return good.data.replace(b'"model": "sc"', b'"model": "s\\ud800c"', 1)


def _origin_nul(good: Saved) -> bytes:
    """A NUL byte in the scenario file's path (was a ValueError from open())."""
    return _dumps(dataclasses.replace(good.rf, origin="/tmp/race\0.py"))


def _extra_choices(good: Saved) -> bytes:
    return _dumps(dataclasses.replace(good.rf, choices=(*good.rf.choices, 0, 0)))


def _choices_that_do_not_fit(good: Saved) -> bytes:
    return _dumps(dataclasses.replace(good.rf, choices=(99,)))


def _unknown_scenario(good: Saved) -> bytes:
    return _dumps(dataclasses.replace(good.rf, scenario="no-such-scenario"))


def _unknown_model(good: Saved) -> bytes:
    return _dumps(dataclasses.replace(good.rf, model="s\nc"))


def _missing_origin(good: Saved) -> bytes:
    return _dumps(dataclasses.replace(good.rf, origin=MISSING))


def _unknown_barrier(good: Saved) -> bytes:
    return _dumps(dataclasses.replace(good.rf, without=("no-such-barrier",)))


def _sealed_era(good: Saved) -> bytes:
    return _dumps(dataclasses.replace(good.rf, era="v5.9"))


def _sealed_parts(good: Saved) -> bytes:
    return _dumps(dataclasses.replace(good.rf, parts=good.rf.parts | {"kernel": "0" * 64}))


def _sealed_outcome(good: Saved) -> bytes:
    return _dumps(dataclasses.replace(good.rf, outcome="nothing happened"))


KINDS: Final = {
    # refused by replay.load: also committed, in tests/cli/bad_replays/
    "not_json": Kind(_not_json, "not JSON (Expecting value: line 1 column 1 (char 0)); "
                     f"expected {EXPECTED}", True),
    "json_not_an_object": Kind(_json_list, f"not a pinlab replay file; expected {EXPECTED}",
                               True),
    "empty": Kind(_empty, "not JSON (Expecting value: line 1 column 1 (char 0))", True),
    "binary": Kind(_binary, "not JSON ('utf-8' codec can't decode byte 0xff in position 0: "
                   "invalid start byte)", True),
    "wrong_format": Kind(_wrong_format, "not a pinlab replay file; expected a JSON object "
                         "with format 'pinlab-replay'", True),
    "version_string": Kind(_version_string, "field 'version' must be an integer, not str "
                           "\"2\"; this pinlab reads replay format 2", True),
    "version_1": Kind(_version_1, "saved by an older pinlab (replay format 1, without a "
                      f"checksum); this pinlab reads format 2: {RESAVE}", True),
    "version_3": Kind(_version_3, "saved by a newer pinlab (replay format 3); this pinlab "
                      "reads format 2", True),
    "missing_checksum": Kind(_missing_checksum, "field 'checksum' or 'digests' is missing "
                             f"or of the wrong type; {RESAVE}", True),
    "edited_era": Kind(_edited_era, "the checksum does not match: field 'era' was changed "
                       f"since the file was saved; {RESAVE}", True),
    "edited_outcome": Kind(_edited_outcome, "the checksum does not match: field 'outcome' "
                           "was changed since the file was saved", True),
    "edited_parts": Kind(_edited_parts, "the checksum does not match: field 'parts' was "
                         "changed since the file was saved", True),
    "edited_digests": Kind(_edited_digests, "field 'digests' was changed since the file was "
                           "saved", True),
    "removed_outcome": Kind(_removed_outcome, "the checksum does not match: field 'outcome' "
                            "was removed since the file was saved", True),
    "added_field": Kind(_added_field, "the checksum does not match: field 'comment' was "
                        "added since the file was saved", True),
    "negative_choice": Kind(_negative_choice, "field 'choices' must be a list of "
                            "non-negative integers", True),
    "choices_not_a_list": Kind(_choices_not_a_list, "field 'choices' is missing or not a "
                               "list", True),
    "huge_choice": Kind(_huge_choice, "not JSON (Exceeds the limit (", True),
    "deep_lists": Kind(_deep_lists, f"nested too deeply; expected {EXPECTED}", True),
    "lone_surrogate": Kind(_lone_surrogate, "the checksum does not match: field 'model' was "
                           "changed since the file was saved", True),
    "origin_nul": Kind(_origin_nul, "field 'origin' must be the scenario file's path", True),
    # past replay.load (the catalogue, the model's fingerprint): made fresh only
    "extra_choices": Kind(_extra_choices, "2 choices left over after the execution ended",
                          False),
    "choices_that_do_not_fit": Kind(_choices_that_do_not_fit, "cannot reproduce the saved "
                                    "execution: choice 0 does not fit this program", False),
    "unknown_scenario": Kind(_unknown_scenario, "scenario 'no-such-scenario' no longer "
                             "exists", False),
    "unknown_model": Kind(_unknown_model, "scenario 'lazyfree-vs-gup-fast' no longer has "
                          "variant 'v5.11' under 's\\nc'", False),
    "missing_origin": Kind(_missing_origin, f"{MISSING}: cannot read the scenario file: No "
                           "such file or directory", False),
    "unknown_barrier": Kind(_unknown_barrier, "no barrier 'no-such-barrier'; see pinlab "
                            "barriers NAME", False),
    "sealed_era": Kind(_sealed_era, "field 'era' is 'v5.9', but variant 'v5.11' of "
                       "lazyfree-vs-gup-fast is of era 'v5.11'", False),
    "sealed_parts": Kind(_sealed_parts, "field 'parts' does not add up to field "
                         "'fingerprint'", False),
    "sealed_outcome": Kind(_sealed_outcome, "field 'outcome' is 'nothing happened', but the "
                           "replayed execution shows '", False),
}  # fmt: skip
COMMITTED: Final = sorted(k for k, kind in KINDS.items() if kind.committed)


def _committed(kind: str) -> Path:
    """The file of ``kind`` in tests/cli/bad_replays/ (binary files: .bin, so that no
    text hook of pre-commit touches them)."""
    return BAD / (f"{kind}.bin" if kind == "binary" else f"{kind}.json")


def _refused(path: Path, message: str) -> None:
    result = RUNNER.invoke(app, ["replay", str(path)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"pinlab replay: {path}: "), result.stderr
    assert message in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_the_corpus_holds_each_kind() -> None:
    assert len(KINDS) >= 12
    assert sorted(p.name for p in BAD.iterdir()) == sorted(_committed(k).name for k in COMMITTED)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_fresh_bad_file_gives_its_message(saved: Saved, kind: str) -> None:
    path = saved.work / f"{kind}.json"
    path.write_bytes(KINDS[kind].mutate(saved))
    _refused(path, KINDS[kind].message)


@pytest.mark.parametrize("kind", COMMITTED)
def test_a_committed_bad_file_gives_its_message(kind: str) -> None:
    _refused(_committed(kind), KINDS[kind].message)


def test_an_origin_with_a_newline_gives_one_line(saved: Saved) -> None:
    """A scenario file's error quotes a path with a control character in it."""
    path = saved.work / "origin_newline.json"
    path.write_bytes(_dumps(dataclasses.replace(saved.rf, origin="/nonexistent/a\nb.py")))
    _refused(path, "cannot read the scenario file: No such file or directory")


def test_lists_nested_about_as_deep_as_json_reads_give_one_line(saved: Saved) -> None:
    """Lists nested just under the depth where json.loads gives up parse, and then the
    checksum's json.dumps of them went deeper still (was a RecursionError).  The depth
    moves with the Python version and the stack: found by bisection, then the 100
    depths either side of it."""
    path = saved.work / "deep.json"

    def too_deep(depth: int) -> bool:
        data = saved.data.replace(b'"sc"', b"[" * depth + b"]" * depth, 1)
        path.write_bytes(data)
        result = _replay(path, data, saved, sealed=False)
        assert result.exit_code == 2, depth
        return "nested too deeply" in result.stderr

    low, high = 1, 400_000  # (a list 1 deep is read, one 400,000 deep (800 KB) is not)
    assert not too_deep(low) and too_deep(high)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if too_deep(mid) else (mid, high)
    for depth in range(max(high - 100, 1), high + 100):
        assert too_deep(depth) == (depth >= high), depth


# ------------------------------------------------------------------- the properties


def _means(data: bytes, good: Saved) -> bool:
    """``data`` parses to the saved object (whitespace, key order, escapes aside)."""
    try:  # (as replay.load reads it: UTF-8 text)
        obj = json.loads(data.decode())
        return json.dumps(obj, sort_keys=True) == json.dumps(good.obj, sort_keys=True)
    except (ValueError, RecursionError):
        return False


def _replay(path: Path, data: bytes, good: Saved, sealed: bool) -> Result:
    """``pinlab replay path`` (which holds ``data``) and what every input must do."""
    start = time.monotonic()
    result = RUNNER.invoke(app, ["replay", str(path)])
    elapsed = time.monotonic() - start
    assert elapsed < LIMIT, (elapsed, data[:2000])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception,
        data[:2000],
    )
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2), (result.exit_code, result.output, data[:2000])
    if result.exit_code == 2:
        assert result.stdout == "", data[:2000]
        assert result.stderr.startswith(f"pinlab replay: {path}: "), result.stderr
        assert len(result.stderr.splitlines()) == 1, (result.stderr, data[:2000])
        _event(_kind(result.stderr[len(f"pinlab replay: {path}: ") :]))
        return result
    assert result.stderr == "", result.stderr
    assert f"replayed from {path}" in result.stdout
    if sealed:  # a file pinlab could have written: it shows the outcome it records
        outcome = replay_file.load(path).outcome
        assert " ".join(outcome.split()) in " ".join(result.stdout.split()), data[:2000]
    else:  # the checksum covers every field: only the saved file itself replays
        assert _means(data, good), data[:2000]
    _event("replayed" + (" (sealed)" if sealed else ""))
    return result


def _event(what: str) -> None:
    if currently_in_test_context():  # (not in the fixture and the plain tests)
        event(what)


def _kind(message: str) -> str:
    """What kind of refusal ``message`` is, for ``--hypothesis-show-statistics``."""
    return "refused: " + re.sub(r"'[^']*'|\d+", "_", message.split(";")[0].strip())[:50]


# ---------------------------------------------------------------------- JSON-level

# Strings that mean something to a replay file, or to what prints it.
NAMES: Final = (
    "lazyfree-vs-gup-fast", "fork-vs-pin-fast", "zap-vs-pin-fast", "v5.11", "v5.9", "current",
    "current-no-mb", "sc", "lkmm", "pinlab-replay", "pinlab", "engine", "kernel", "scenarios",
    "scenario file", "", " ", "\0", "\n", "a\nb", "\u2028", "\x85", "\ud800", "\udfff", "'",
    '"', "\\", "0", "-1", "2", "null", "[]", MISSING, "/dev/null", "/", ".", "race.py",
    "no-such-barrier", *list(BARRIERS)[:6],
)  # fmt: skip
KEYS: Final = (
    "format", "version", "scenario", "variant", "era", "model", "choices", "outcome",
    "fingerprint", "parts", "origin", "without", "with", "digests", "checksum",
)  # fmt: skip


class _Huge(int):
    """An int of more digits than Python reads from text, with a repr Hypothesis can print."""

    def __repr__(self) -> str:
        return "10**4400"


# Bounded like the numbers of a file (a choice is a small index; a version a small int),
# and past every bound: 64-bit, and more digits than Python reads from text.
INTS: Final = st.one_of(
    st.integers(-3, 12),
    st.sampled_from([2**31, 2**63, 2**64, -(2**63), 10**30, _Huge(10**4400)]),
    st.integers(),
)
TEXT: Final = st.one_of(
    st.sampled_from(NAMES), st.text(st.characters(exclude_categories=()), max_size=12)
)
SCALARS: Final = st.one_of(
    st.none(), st.booleans(), INTS, st.floats(), TEXT, st.just(1.0), st.just(2.0)
)
VALUES: Final = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)
# JSON that no Python value dumps to: written into the text in place of a value.
RAW: Final = st.one_of(
    st.sampled_from(["NaN", "-Infinity", "1e400", "-0", "0.0", "1E2", '"\\ud800"', "[1,]"]),
    st.integers(900, 1010).map(lambda n: "[" * n + "]" * n),
    st.just("[" * 100_000),
    st.just("9" * 4400),
)


def _retyped(value: object, how: str) -> object:
    """``value`` as a near miss of another type: "2" for 2, [2], {"v": 2}, 2.0, true."""
    if how == "str":
        return value if isinstance(value, str) else json.dumps(value)
    if how == "list":
        return list(value.values()) if isinstance(value, dict) else [value]
    if how == "dict":
        return {"v": value}
    if how == "float":
        return float(value) if isinstance(value, int) else 0.5
    return bool(value) if not isinstance(value, (list, dict)) else value


@st.composite
def _choices_edit(draw: st.DrawFn, choices: list[Any]) -> list[Any]:
    choices = list(choices)
    edit = draw(st.sampled_from(["append", "drop", "change", "insert", "clear", "swap"]))
    value = draw(st.one_of(INTS, st.booleans(), st.floats(), st.none(), st.just("0")))
    i = draw(st.integers(0, max(len(choices) - 1, 0)))
    if edit == "append":
        choices.append(value)
    elif edit == "insert":
        choices.insert(i, value)
    elif edit == "clear":
        choices.clear()
    elif not choices:
        pass
    elif edit == "drop":
        del choices[i:]
    elif edit == "change":
        choices[i] = value
    else:
        j = draw(st.integers(0, len(choices) - 1))
        choices[i], choices[j] = choices[j], choices[i]
    return choices


@st.composite
def _object_edit(draw: st.DrawFn, obj: dict[str, Any], sealed: bool) -> dict[str, Any]:
    """One edit of the object: a field set, removed or added, retyped; the choices,
    digests or checksum edited (not in a file to be sealed again: sealing undoes it)."""
    obj = dict(obj)
    keys = sorted(k for k in {*KEYS, *obj} if not (sealed and k in replay_file._CHECKED))
    key = draw(st.sampled_from(keys) if draw(st.integers(0, 4)) else TEXT)
    edits = ["set", "set", "remove", "retype", "choices", *([] if sealed else ["seal-part"])]
    edit = draw(st.sampled_from(edits))
    if edit == "set":
        obj[key] = draw(st.one_of(VALUES, st.sampled_from(list(obj.values()))))
    elif edit == "remove" and (present := sorted(set(keys) & set(obj))):
        obj.pop(draw(st.sampled_from(present)))
    elif edit == "retype" and (present := sorted(set(keys) & set(obj))):
        key = draw(st.sampled_from(present))
        obj[key] = _retyped(obj[key], draw(st.sampled_from(["str", "list", "dict", "float",
                                                             "bool"])))  # fmt: skip
    elif edit == "choices" and isinstance(obj.get("choices"), list):
        obj["choices"] = draw(_choices_edit(obj["choices"]))
    elif edit == "seal-part":
        digests, checksum = obj.get("digests"), obj.get("checksum")
        if draw(st.booleans()) and isinstance(digests, dict) and digests:
            name = draw(st.sampled_from(sorted(digests)))
            choice = draw(st.sampled_from(["drop", "zero", "other", "upper"]))
            if choice == "drop":
                digests = {k: v for k, v in digests.items() if k != name}
            else:
                value = digests[name]
                other = {"zero": "0" * 16, "other": draw(VALUES),
                         "upper": str(value).upper()}[choice]  # fmt: skip
                digests = digests | {name: other}
            obj["digests"] = digests
        elif isinstance(checksum, str):
            i = draw(st.integers(0, max(len(checksum) - 1, 0)))
            obj["checksum"] = checksum[:i] + draw(st.sampled_from("0f ")) + checksum[i + 1 :]
    return obj


@st.composite
def json_mutations(draw: st.DrawFn, good: Saved) -> tuple[bytes, bool]:
    """The saved object with 1-3 edits, sealed again or not; then, sometimes, one value
    replaced in the text by raw JSON.  The file's bytes, and whether it was sealed."""
    obj, sealed = good.obj, draw(st.booleans())
    for _ in range(draw(st.integers(1, 3))):
        obj = draw(_object_edit(obj, sealed))
    data = _text(_seal(obj) if sealed else obj)
    if draw(st.integers(0, 9)) == 0:  # raw JSON: in place of a value of the first lines
        key = draw(st.sampled_from(["version", "model", "choices", "outcome"]))
        head, sep, rest = data.partition(f'"{key}": '.encode())
        if sep:
            rest = rest.split(b"\n", 1)[1] if b"\n" in rest else b""
            data = head + sep + draw(RAW).encode() + b",\n" + rest
            sealed = False
    return data, sealed


def _fuzz_json(good: Saved, case: tuple[bytes, bool]) -> None:
    data, sealed = case
    path = good.work / "input.json"
    path.write_bytes(data)
    _replay(path, data, good, sealed)


@fuzz_settings(200)
@given(data=st.data())
def test_json_mutations_give_the_trace_or_one_line(saved: Saved, data: st.DataObject) -> None:
    _fuzz_json(saved, data.draw(json_mutations(saved)))


@pytest.mark.slow
@fuzz_settings(1800)
@given(data=st.data())
def test_many_json_mutations_give_the_trace_or_one_line(saved: Saved, data: st.DataObject) -> None:
    _fuzz_json(saved, data.draw(json_mutations(saved)))


# ---------------------------------------------------------------------- byte-level

# Mostly the bytes of JSON, so that edits get past the UTF-8 and JSON checks.
JSON_BYTES: Final = st.one_of(
    st.integers(0x20, 0x7E), st.sampled_from(b'\t\n\r{}[]",:0123456789-.eE\\ ')
)
ANY_BYTE: Final = st.one_of(JSON_BYTES, JSON_BYTES, JSON_BYTES, st.integers(0, 255))


@st.composite
def byte_mutations(draw: st.DrawFn, good: Saved) -> bytes:
    """The saved file with 1-8 byte edits: set, flip a bit, insert, delete, copy, truncate,
    or set a digit to another."""
    data = bytearray(good.data)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["set", "flip", "insert", "delete", "copy", "truncate",
                                     "digit"]))  # fmt: skip
        if edit == "digit":  # (the JSON stays JSON: the checksum has to tell)
            digits = [k for k, b in enumerate(data) if 0x30 <= b <= 0x39]
            if digits:
                data[draw(st.sampled_from(digits))] = draw(st.integers(0x30, 0x39))
        elif edit == "set" and i < len(data):
            data[i] = draw(ANY_BYTE)
        elif edit == "flip" and i < len(data):
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif edit == "insert":
            data[i:i] = bytes(draw(st.lists(ANY_BYTE, min_size=1, max_size=4)))
        elif edit == "delete":
            del data[i : i + draw(st.integers(1, 16))]
        elif edit == "copy":
            j = draw(st.integers(0, len(data)))
            data[i:i] = data[j : j + draw(st.integers(1, 32))]
        elif edit == "truncate":
            del data[i:]
    return bytes(data)


def _fuzz_bytes(good: Saved, data: bytes) -> None:
    path = good.work / "input.json"
    path.write_bytes(data)
    _replay(path, data, good, sealed=False)


@fuzz_settings(200)
@given(data=st.data())
def test_byte_mutations_give_the_trace_or_one_line(saved: Saved, data: st.DataObject) -> None:
    _fuzz_bytes(saved, data.draw(byte_mutations(saved)))


@fuzz_settings(100)
@given(data=st.binary(max_size=512))
def test_random_bytes_give_one_line(saved: Saved, data: bytes) -> None:
    _fuzz_bytes(saved, data)


@pytest.mark.slow
@fuzz_settings(1700)
@given(data=st.data())
def test_many_byte_mutations_give_the_trace_or_one_line(saved: Saved, data: st.DataObject) -> None:
    _fuzz_bytes(saved, data.draw(byte_mutations(saved)))
