"""``pinlab explain`` and ``pinlab replay``: the trace, DOT, and replay files."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pinlab.cli import app
from pinlab.scenarios import replay as replay_file

RUNNER = CliRunner()
ERA = ["fork-vs-pin-fast", "--era", "v5.9", "--model", "sc"]


def _table(output: str) -> list[str]:
    """The trace proper: from the table's header to the end."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "CPU0: pin_user_pages_fast" in line)
    return lines[start:]


def test_trace_in_kernel_terms() -> None:
    result = RUNNER.invoke(app, ["explain", *ERA])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # (lines wrap at 80 columns into a pipe)
    assert out.startswith("fork-vs-pin-fast [v5.9] under sc:")
    assert "CPU1: fork" in out
    for words in (
        "mm_set_has_pinned_flag() mm/gup.c",  # the kernel function and its file
        "gup_fast.py:",  # the model's file and line
        "folio_needs_cow_for_dma()",  # fork asks whether the page may be pinned
        "copy_pte_range() mm/memory.c",  # fork copies the PTEs
        "folio_ref_try_add()",
        "WRITE_ONCE mm0.1->has_pinned",
        "READ_ONCE PTE mm0.1 0x10000000",
        "pfn 0x101 [WDYs] → pfn 0x101 [DYs]",  # fork write-protects the parent's PTE
        "(1×GUP_PIN_COUNTING_BIAS + 1)",
        "+PG_referenced",
        "forbidden outcome: pinned pfn 0x101 is mapped by the child",
        "barriers on the path:",
    ):
        assert words in out, words
    assert "2 context switches" in out  # fork reads has_pinned; the pin; fork shares


def test_never_says_so() -> None:
    result = RUNNER.invoke(app, ["explain", "fork-vs-pin-fast", "--era", "v5.11", "--model", "sc"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "fork-vs-pin-fast [v5.11] under sc: never"
    assert lines[1].startswith("No consistent execution shows the forbidden outcome: the page")
    assert "37 executions explored" in result.stdout


def test_save_replay_round_trip(tmp_path: Path) -> None:
    saved = tmp_path / "race.json"
    explained = RUNNER.invoke(app, ["explain", *ERA, "--save", str(saved)])
    assert explained.exit_code == 0, explained.output
    record = json.loads(saved.read_text())
    assert (record["scenario"], record["variant"], record["era"], record["model"]) == (
        "fork-vs-pin-fast", "v5.9", "v5.9", "sc",
    )  # fmt: skip
    assert record["choices"] and record["fingerprint"]
    replayed = RUNNER.invoke(app, ["replay", str(saved)])
    assert replayed.exit_code == 0, replayed.output
    assert "replayed from" in replayed.stdout
    assert _table(replayed.stdout) == _table(explained.stdout)


def test_dot(tmp_path: Path) -> None:
    dot = tmp_path / "race.dot"
    result = RUNNER.invoke(app, ["explain", "fork-vs-pin-fast", "--era", "v5.8", "--dot", str(dot)])
    assert result.exit_code == 0, result.output
    text = dot.read_text()
    assert text.startswith('digraph "fork-vs-pin-fast[v5.8]@sc" {')
    assert 'label="CPU0: pin_user_pages_fast"' in text and 'label="CPU1: fork"' in text
    for rel in ("po", "rf", "co", "fr"):
        assert f'[label="{rel}"' in text, rel
    assert text.rstrip().endswith("}")


def _saved(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    saved = tmp_path / "race.json"
    result = RUNNER.invoke(
        app, ["explain", "fork-vs-pin-fast", "--era", "v5.8", "--save", str(saved)]
    )
    assert result.exit_code == 0, result.output
    return saved, json.loads(saved.read_text())


def _sealed(obj: dict[str, Any]) -> str:
    """``obj`` with its digests and checksum, as the format says (pinlab.scenarios.replay)."""

    def canonical(value: object) -> bytes:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    fields = {k: v for k, v in obj.items() if k not in ("digests", "checksum")}
    digests = {k: hashlib.sha256(canonical(v)).hexdigest()[:16] for k, v in fields.items()}
    checksum = hashlib.sha256(canonical(fields)).hexdigest()
    return json.dumps(fields | {"digests": digests, "checksum": checksum})


def _replay(path: Path) -> Any:
    result = RUNNER.invoke(app, ["replay", str(path)])
    assert "Traceback" not in result.output
    return result


def test_the_checksum_is_the_documented_one(tmp_path: Path) -> None:
    _, record = _saved(tmp_path)
    assert json.loads(_sealed(record)) == record


def test_replay_refuses_a_changed_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved, _ = _saved(tmp_path)
    whole, parts = replay_file.model_fingerprint()
    changed = parts | {"kernel": "1" * 64}
    now = hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()
    monkeypatch.setattr(replay_file, "model_fingerprint", lambda: (now, changed))
    result = _replay(saved)
    assert result.exit_code == 2
    assert "the model changed since this file was saved: kernel/ changed" in result.stderr
    assert f"(saved {whole[:12]}, now {now[:12]})" in result.stderr
    assert result.stdout == ""


def test_replay_refuses_a_vanished_scenario(tmp_path: Path) -> None:
    saved, record = _saved(tmp_path)
    saved.write_text(_sealed(record | {"scenario": "fork-vs-pin-slow"}))
    result = _replay(saved)
    assert result.exit_code == 2
    assert "scenario 'fork-vs-pin-slow' no longer exists" in result.stderr


@pytest.mark.parametrize(
    ("field", "value", "what"),
    [
        ("era", "v5.9", "field 'era' was changed"),
        ("outcome", "nothing happened", "field 'outcome' was changed"),
        ("parts", {"pinlab": "0.1.0"}, "field 'parts' was changed"),
        ("choices", "+[0, 0]", "field 'choices' was changed"),  # choices appended
        ("comment", "an extra field", "field 'comment' was added"),
        ("checksum", "0" * 64, "field 'checksum' was changed"),
    ],
)
def test_replay_refuses_an_edited_file(
    tmp_path: Path, field: str, value: object, what: str
) -> None:
    saved, record = _saved(tmp_path)
    if value == "+[0, 0]":
        choices = record["choices"]
        assert isinstance(choices, list)
        value = [*choices, 0, 0]
    saved.write_text(json.dumps(record | {field: value}))
    result = _replay(saved)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr == (
        f"pinlab replay: {saved}: the checksum does not match: {what} since the file was "
        "saved; explain it again with --save to write a new one\n"
    )


def test_replay_names_a_removed_field_and_edited_digests(tmp_path: Path) -> None:
    saved, record = _saved(tmp_path)
    saved.write_text(json.dumps({k: v for k, v in record.items() if k != "outcome"}))
    assert "field 'outcome' was removed" in _replay(saved).stderr
    digests = record["digests"]
    assert isinstance(digests, dict)
    saved.write_text(json.dumps(record | {"digests": digests | {"era": "0" * 16}}))
    result = _replay(saved)
    assert result.exit_code == 2
    assert "field 'digests' was changed since the file was saved" in result.stderr


@pytest.mark.parametrize(
    ("field", "value", "what"),
    [
        ("era", "v5.9", "field 'era' is 'v5.9', but variant 'v5.8' of fork-vs-pin-fast is of "
                        "era 'v5.8'"),
        ("parts", "kernel", "field 'parts' does not add up to field 'fingerprint'"),
        ("choices", "+[0, 0]", "choices left over after the execution ended"),
        ("outcome", "nothing happened", "field 'outcome' is 'nothing happened', but the "
                                        "replayed execution shows 'pinned pfn 0x101"),
    ],
)  # fmt: skip
def test_replay_rederives_what_it_can(tmp_path: Path, field: str, value: object, what: str) -> None:
    """A file edited and sealed again (or a model that lost its way): the replay compares."""
    saved, _ = _saved(tmp_path)
    rf = replay_file.load(saved)
    if field == "parts":
        value = rf.parts | {"kernel": "1" * 64}
    elif field == "choices":
        value = (*rf.choices, 0, 0)
    saved.write_text(replay_file.dumps(dataclasses.replace(rf, **{field: value})))
    result = _replay(saved)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"pinlab replay: {saved}: ")
    assert what in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("version", "what"),
    [
        ("2", "field 'version' must be an integer, not str \"2\"; this pinlab reads replay "
              "format 2"),
        ("1", "field 'version' must be an integer, not str \"1\"; this pinlab reads replay "
              "format 2"),
        (1, "saved by an older pinlab (replay format 1, without a checksum); this pinlab reads "
            "format 2: explain it again with --save to write a new one"),
        (3, "saved by a newer pinlab (replay format 3); this pinlab reads format 2"),
        (None, "field 'version' must be an integer, not NoneType null"),
    ],
)  # fmt: skip
def test_replay_names_a_wrong_version(tmp_path: Path, version: object, what: str) -> None:
    saved, record = _saved(tmp_path)
    saved.write_text(_sealed(record | {"version": version}))
    result = _replay(saved)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"pinlab replay: {saved}: {what}"), result.stderr


def test_replay_refuses_a_version_1_file(tmp_path: Path) -> None:
    """As pinlab 0.1.0 wrote them before the checksum."""
    saved = tmp_path / "old.json"
    old = {"format": "pinlab-replay", "version": 1, "scenario": "fork-vs-pin-fast",
           "variant": "v5.8", "era": "v5.8", "model": "sc", "choices": [0, 0, 1],
           "outcome": "", "fingerprint": "0" * 64, "parts": {"pinlab": "0.1.0"}}  # fmt: skip
    saved.write_text(json.dumps(old))
    result = _replay(saved)
    assert result.exit_code == 2
    assert "saved by an older pinlab" in result.stderr


def test_replay_refuses_malformed_files(tmp_path: Path) -> None:
    nochoices = {"format": "pinlab-replay", "version": 2, "scenario": "fork-vs-pin-fast",
                 "variant": "v5.8", "era": "v5.8", "model": "sc", "fingerprint": "x"}  # fmt: skip
    cases = {
        "garbage.json": "not json at all",
        "list.json": "[1, 2]",
        "nochoices.json": _sealed(nochoices),
        "nochecksum.json": json.dumps(nochoices | {"choices": [0]}),
    }
    expected = {
        "garbage.json": "not JSON",
        "list.json": "not a pinlab replay file; expected a JSON object",
        "nochoices.json": "field 'choices' is missing or not a list",
        "nochecksum.json": "field 'checksum' or 'digests' is missing or of the wrong type",
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        result = RUNNER.invoke(app, ["replay", str(path)])
        assert result.exit_code == 2, name
        assert result.stderr.startswith(f"pinlab replay: {path}: "), result.stderr
        assert expected[name] in result.stderr
        assert "Traceback" not in result.output
    missing = RUNNER.invoke(app, ["replay", str(tmp_path / "absent.json")])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr


def test_replay_refuses_choices_that_do_not_fit(tmp_path: Path) -> None:
    saved, record = _saved(tmp_path)
    saved.write_text(_sealed(record | {"choices": [99]}))
    result = _replay(saved)
    assert result.exit_code == 2
    assert "cannot reproduce the saved execution" in result.stderr


# -- --save and --dot are checked before the run -----------------------------------------


def _read_only_dir(tmp_path: Path) -> Path:
    """A directory no file can be created in, even by root (who ignores modes)."""
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        return ro
    sys_dir = Path("/sys")
    try:
        os.close(os.open(sys_dir / "pinlab-probe", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    except OSError:
        return sys_dir
    pytest.skip("running as root with a writable /sys: no read-only directory to try")


@pytest.mark.parametrize("option", ["--save", "--dot"])
@pytest.mark.parametrize("where", ["missing", "not-a-dir", "a-dir", "read-only"])
def test_unwritable_outputs_fail_before_the_run(tmp_path: Path, option: str, where: str) -> None:
    (tmp_path / "file").write_text("")
    target = {
        "missing": tmp_path / "no" / "such" / "dir" / "out",
        "not-a-dir": tmp_path / "file" / "out",
        "a-dir": tmp_path,
        "read-only": _read_only_dir(tmp_path) / "out" if where == "read-only" else tmp_path,
    }[where]
    why = {"missing": "No such file or directory", "not-a-dir": "Not a directory",
           "a-dir": "Is a directory", "read-only": ""}[where]  # fmt: skip
    result = RUNNER.invoke(app, ["explain", *ERA, option, str(target)])
    assert result.exit_code == 2
    assert result.stdout == ""  # no trace: nothing was run
    assert result.stderr.startswith(f"pinlab explain: cannot write {target}: {why}")
    assert len(result.stderr.splitlines()) == 1
    assert not target.exists() or target.is_dir()


def test_writable_outputs_are_left_alone(tmp_path: Path) -> None:
    """The check creates nothing that the run would not (a run without a counterexample)."""
    dot, save = tmp_path / "never.dot", tmp_path / "never.json"
    args = ["explain", "fork-vs-pin-fast", "--era", "v5.11", "--model", "sc"]
    result = RUNNER.invoke(app, [*args, "--dot", str(dot), "--save", str(save)])
    assert result.exit_code == 0, result.output
    assert not dot.exists() and not save.exists()
    assert "no counterexample, so no --dot or --save file written" in result.stderr


def test_replay_dot_fails_before_the_replay(tmp_path: Path) -> None:
    saved, _ = _saved(tmp_path)
    target = tmp_path / "missing" / "race.dot"
    result = RUNNER.invoke(app, ["replay", str(saved), "--dot", str(target)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (f"pinlab replay: cannot write {target}: No such file or directory\n")
