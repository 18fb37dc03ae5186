"""Scenario files: a user's races load and run like the catalogue's, and every
broken file gets one message naming the file and the line, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pinlab.scenarios.files import ScenarioFileError, is_scenario_file, load

BAD = Path(__file__).parent / "bad_files"

# file -> (line, words the message must contain); line 0: the file as a whole
EXPECTED: dict[str, tuple[int, str]] = {
    "syntax_error.py": (3, "'(' was never closed"),
    "raises_on_import.py": (4, "while the file ran: NameError: name 'era_by_nmae'"),
    "no_scenarios.py": (0, "defines no SCENARIOS"),
    "scenarios_not_a_tuple.py": (0, "SCENARIOS is of type int"),
    "scenarios_hold_a_row.py": (0, "SCENARIOS[0] is of type Row, not a Scenario"),
    "scenarios_empty.py": (0, "SCENARIOS is empty"),
    "row_without_model.py": (10, "expected under no model (give sc= or lkmm=)"),
    "unknown_era.py": (10, "no era 'v9.9'; the eras are v4.20"),
    "setup_fails.py": (9, "while broken[current]@sc built its setup: AssertionError: no VMA"),
    "build_returns_none.py": (0, "build() returned a NoneType, not a Built"),
    "path_raises.py": (11, "while broken[current]@sc ran: ZeroDivisionError"),
    "predicate_raises.py": (14, "while broken[current]@sc ran: KeyError: 'no such register'"),
    "endless_path.py": (9, "path spinner of broken[current]@sc ran 2000 operations"),
    "barrier_redefined.py": (3, "is defined already, differently"),
    "not_utf8.py": (0, "not UTF-8 text"),
}


def test_the_corpus_is_the_table() -> None:
    assert sorted(p.name for p in BAD.glob("*.py")) == sorted(EXPECTED)


def _error(path: Path) -> ScenarioFileError:
    with pytest.raises(ScenarioFileError) as info:
        for scenario in load(str(path)):
            scenario.run()
    return info.value


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_broken_file_says_where_and_what(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    shutil.copy(BAD / name, path)  # (the message names the path it was given)
    line, words = EXPECTED[name]
    err = _error(path)
    assert (err.path, err.line) == (str(path), line), str(err)
    assert words in err.message, str(err)
    assert str(err).startswith(f"{path}:{line}:" if line else f"{path}: ")


def test_a_missing_file(tmp_path: Path) -> None:
    err = _error(tmp_path / "nowhere.py")
    assert "cannot read the scenario file" in str(err) and err.line == 0


def test_which_names_are_files() -> None:
    assert is_scenario_file("./race.py") and is_scenario_file("race.py")
    assert is_scenario_file("dir/race") and not is_scenario_file("fork-vs-pin-fast")
