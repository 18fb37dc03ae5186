"""``pinlab explain`` and ``pinlab replay``: the trace, DOT, and replay files."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pinlab.cli import app

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
    out = result.stdout
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


def test_replay_refuses_a_changed_model(tmp_path: Path) -> None:
    saved, record = _saved(tmp_path)
    record["fingerprint"] = "0" * 64
    parts = record["parts"]
    assert isinstance(parts, dict)
    parts["kernel"] = "1" * 64
    saved.write_text(json.dumps(record))
    result = RUNNER.invoke(app, ["replay", str(saved)])
    assert result.exit_code == 2
    assert "the model changed since this file was saved: kernel/ changed" in result.stderr
    assert result.stdout == ""


def test_replay_refuses_a_vanished_scenario(tmp_path: Path) -> None:
    saved, record = _saved(tmp_path)
    record["scenario"] = "fork-vs-pin-slow"
    saved.write_text(json.dumps(record))
    result = RUNNER.invoke(app, ["replay", str(saved)])
    assert result.exit_code == 2
    assert "scenario 'fork-vs-pin-slow' no longer exists" in result.stderr


def test_replay_refuses_malformed_files(tmp_path: Path) -> None:
    cases = {
        "garbage.json": "not json at all",
        "list.json": "[1, 2]",
        "nochoices.json": json.dumps({"format": "pinlab-replay", "version": 1,
                                      "scenario": "fork-vs-pin-fast", "variant": "v5.8",
                                      "era": "v5.8", "model": "sc", "fingerprint": "x"}),
    }  # fmt: skip
    expected = {
        "garbage.json": "not JSON",
        "list.json": "not a pinlab replay file; expected a JSON object",
        "nochoices.json": "field 'choices' is missing or not a list",
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
    record["choices"] = [99]
    saved.write_text(json.dumps(record))
    result = RUNNER.invoke(app, ["replay", str(saved)])
    assert result.exit_code == 2
    assert "cannot reproduce the saved execution" in result.stderr
