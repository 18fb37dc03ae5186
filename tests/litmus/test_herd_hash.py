"""herd7's Hash= is reproduced: checked on the 79 catalogue tests' herd7 outputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pinlab.litmus.herd_hash import herd_hash
from pinlab.litmus.parse import parse_file, parse_text
from tests.litmus.litmus_data import LITMUS, corpus, rel

CATALOGUE = sorted((LITMUS / "catalogue").glob("*.litmus"))


@pytest.mark.parametrize("path", corpus(CATALOGUE), ids=rel)
def test_hash_as_herd7(path: Path) -> None:
    m = re.search(r"^Hash=(\S+)$", Path(f"{path}.expected").read_text(), re.M)
    assert m is not None
    assert herd_hash(parse_file(path)) == m.group(1)


def test_a_hash_info_line_wins() -> None:
    assert herd_hash(parse_text("C t\nHash=feed\n{}\nP0(int *x) {}\n")) == "feed"
