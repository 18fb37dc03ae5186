"""``--html``: one self-contained page per counterexample (explain, replay) or check run.

The pages of ``fork-vs-pin-fast --era v5.9 --model sc`` are checked with
Python's html.parser: well-formed (every element closed, in order), the
per-CPU trace table, the inline SVG graph (well-formed XML too), the memory
after each step, no reference outside the page (no ``http://``, ``https://``,
script, stylesheet link or image), every ``#anchor`` resolving to an id of the
page.  Where a Chromium is on PATH, it loads the page headless: no console
error, and a screenshot, kept as a CI artefact in ``$PINLAB_ARTIFACTS`` when
that is set (``.ci/run`` sets it) and under the test's tmp dir otherwise;
elsewhere that test skips.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pinlab.cli import app
from pinlab.report.html import check_page, counterexample_section, state_after_steps
from pinlab.report.kterms import describe_value
from pinlab.scenarios import Verdict
from pinlab.scenarios.explain import Counterexample, find_counterexample
from pinlab.scenarios.replay import select_one

RUNNER = CliRunner()
ERA = ["fork-vs-pin-fast", "--era", "v5.9", "--model", "sc"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class _Page(HTMLParser):
    """The structure of a page: whether it nests properly, its ids, links and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.tags: dict[str, int] = {}
        self.classes: set[str] = set()
        self.doctype = False
        self.text: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.doctype = self.doctype or decl.lower() == "doctype html"

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name == "id" and value is not None:
                self.ids.append(value)
            elif name == "href" and value is not None:
                self.hrefs.append(value)
            elif name == "class" and value is not None:
                self.classes.update(value.split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)  # (<path .../> in the SVG)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _check_page(html: str) -> _Page:
    """Parse ``html`` and assert what every page keeps to."""
    page = _Page()
    page.feed(html)
    page.close()
    assert page.doctype
    assert not page.errors, page.errors[:5]
    assert page.stack == [], page.stack
    assert not re.search(r"https?://", html, re.IGNORECASE)
    for tag in ("script", "link", "img", "iframe", "object"):
        assert tag not in page.tags, tag
    assert all(u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", html))
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"
    for href in page.hrefs:
        assert href.startswith("#") and href[1:] in page.ids, href
    for svg in re.findall(r"<svg.*?</svg>", html, re.DOTALL):
        ET.fromstring(svg)  # well-formed XML as well
    return page


@pytest.fixture(scope="module")
def cex() -> Counterexample:
    best = find_counterexample(select_one("fork-vs-pin-fast", "v5.9", "sc", None)).best
    assert best is not None
    return best


@pytest.fixture(scope="module")
def explain_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html") / "race.html"
    result = RUNNER.invoke(app, ["explain", *ERA, "--html", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_explain_page(explain_page: Path, cex: Counterexample) -> None:
    html = explain_page.read_text(encoding="utf-8")
    page = _check_page(html)
    assert {"trace", "state", "counterexample", "graph"} <= page.classes
    assert page.tags["svg"] == 1
    text = "".join(page.text)
    for words in (
        "fork-vs-pin-fast [v5.9] under sc",
        "CPU0: pin_user_pages_fast",
        "CPU1: fork",
        "folio_ref_try_add()",
        "pfn 0x101 [WDYs] → pfn 0x101 [DYs]",
        "forbidden outcome:",
        "folio0x101->_refcount",  # a column of the memory after each step
        "the shortest of",
    ):
        assert words in text, words
    # the trace: a column per CPU, a row per step; the graph: a box per event
    assert html.count('<tr id="cex-step') == len(cex.order)
    assert html.count('<g class="event"') == len(cex.execution.graph.events)
    assert "folio0x101-&gt;_refcount" in html  # escaped
    assert sorted(page.hrefs) == sorted(f"#cex-step{n}" for n in range(1, len(cex.order) + 1))


def test_replay_page_is_the_explain_page(tmp_path: Path, explain_page: Path) -> None:
    saved, out = tmp_path / "race.json", tmp_path / "replayed.html"
    assert RUNNER.invoke(app, ["explain", *ERA, "--save", str(saved)]).exit_code == 0
    result = RUNNER.invoke(app, ["replay", str(saved), "--html", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    _check_page(html)
    assert f"replayed from {saved}" in html

    def body(page: str) -> str:  # (the summary line differs)
        return re.sub(r"<p>\d+ events.*?</p>", "", page)

    assert body(html) == body(explain_page.read_text(encoding="utf-8"))


def test_memory_after_each_step(cex: Counterexample) -> None:
    locs, rows = state_after_steps(cex)
    assert len(rows) == len(cex.order) + 1  # the initial state, then after each step
    refcount = locs.index(next(loc for loc in locs if loc.endswith("._refcount")))
    values = [row[refcount][0] for row in rows]
    assert values[0] == "1"
    assert values[-1] == "1026 (1×GUP_PIN_COUNTING_BIAS + 2)"  # pinned, and fork's reference
    changed = [n for n, row in enumerate(rows) if row[refcount][1]]
    assert changed and all(values[n] != values[n - 1] for n in changed)
    final = cex.execution.final.memory  # (under sc the last row is the final memory)
    assert [v for v, _ in rows[-1]] == [describe_value(loc, final[loc]) for loc in locs]


def test_text_is_escaped(cex: Counterexample) -> None:
    scenario = dataclasses.replace(cex.scenario, title="<script>alert(1)</script> & co")
    odd = dataclasses.replace(cex, scenario=scenario, outcome='"<b>"')
    html = counterexample_section(odd)
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "&quot;&lt;b&gt;&quot;" in html


def test_check_page_links_each_reachable_row(tmp_path: Path) -> None:
    out = tmp_path / "check.html"
    result = RUNNER.invoke(app, ["check", *ERA, "--html", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    page = _check_page(html)
    assert page.hrefs[0] == "#cex-1"  # then the memory table's links to trace steps
    assert all(h.startswith("#cex-1-step") for h in page.hrefs[1:])
    assert "verdicts" in page.classes and "trace" in page.classes
    assert "the forbidden execution the check found" in html


def test_check_page_without_a_counterexample() -> None:
    never = select_one("fork-vs-pin-fast", "v5.11", "sc", None).run()
    assert never.verdict is Verdict.NEVER
    reachable = select_one("fork-vs-pin-fast", "v5.8", "sc", None).run()
    html = check_page([never, reachable], {reachable.scenario.key: "why not"}, "2 scenarios")
    page = _check_page(html)
    assert page.hrefs == ["#cex-2"]  # the never row links nowhere; the other has no trace
    assert "no counterexample shown: why not" in html


def _browser() -> str | None:
    return next((path for b in BROWSERS if (path := shutil.which(b))), None)


@pytest.mark.skipif(
    _browser() is None, reason=f"no headless browser on PATH (tried {', '.join(BROWSERS)})"
)
def test_page_loads_in_headless_chromium(explain_page: Path, tmp_path: Path) -> None:
    browser = _browser()
    assert browser is not None
    artefacts = os.environ.get("PINLAB_ARTIFACTS")
    shot = Path(artefacts) / "explain-page.png" if artefacts else tmp_path / "page.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    # No background networking: a closed network refuses Chromium's own
    # connections, and the page must need none.
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
             "--v=0", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [*flags, *args, explain_page.as_uri()]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)

    dom = run("--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'class="trace"' in dom.stdout and "<svg" in dom.stdout
    taken = run(f"--screenshot={shot}", "--window-size=1400,1800", "--hide-scrollbars")
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 10_000
    for log in (dom.stderr, taken.stderr):
        bad = [line for line in log.splitlines()
               if "Uncaught" in line or ("CONSOLE" in line and "ERROR" in line)
               or "Failed to load resource" in line]  # fmt: skip
        assert not bad, bad
