"""The instructor's report and the students' feedback pages: what they say, that they
render in a real browser with every student's link working, and that nothing a student
controls (folder names, exception text) becomes markup, a formula or a control code."""
import csv
import html.parser
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.classroom import pages as batch_pages, report as batch_report
from autograder.classroom.store import load_records
from browser import Browser, executable
from conftest import ROOT, SOLUTIONS

FAST = ["--timeout-scale", "0.25"]
XSS = "<img src=x onerror=window.hacked=1>"
FORMULA = "=HYPERLINK(\"http:x\";\"y\")"
CONTROL = "\tctrl\r\x1b[2Jname\x07"


def _copy(folder: Path, old: str = "", new: str = "") -> Path:
    shutil.copytree(SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    layers = folder / "rnn_layers.py"
    text = layers.read_text()
    if old:
        assert text.count(old) == 1
        layers.write_text(text.replace(old, new))
    return folder


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("class")
    _copy(folder / "good")
    _copy(folder / "buggy", "np.add.at(dW, x, dout)", "dW[x] += dout")
    _copy(folder / "buggy2", "np.add.at(dW, x, dout)", "dW[x] += dout")
    _copy(folder / "syntax", "def rnn_forward(", "def rnn_forward((")
    _copy(folder / "hang", "    out = W[x]", "    while x.size == 1:\n        pass\n    out = W[x]")
    shutil.copytree(ROOT / "assignment" / "rnn", folder / "starter",
                    ignore=shutil.ignore_patterns("__pycache__", "datasets", "*.ipynb"))
    (folder / "broken.zip").write_bytes(b"not a zip")
    for name in (XSS, FORMULA, CONTROL):
        _copy(folder / name)
    out = tmp_path_factory.mktemp("out")
    subprocess.run([sys.executable, "-m", "autograder", "grade-all", str(folder), "--output",
                    str(out), "--jobs", "2", *FAST], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    return out


NAMES = {"good", "buggy", "buggy2", "syntax", "hang", "starter", "broken", XSS, FORMULA,
         CONTROL}


def test_look_at_first_names_each_problem_once_with_its_reason(graded):
    view = batch_report.analyse(load_records(graded))
    kinds = {name: [k for k, _ in reasons] for name, reasons in view.look_first.items()}
    assert set(kinds) == {"syntax", "hang", "starter", "broken"}
    assert kinds["syntax"] == ["syntax error", "zero score"]
    assert kinds["broken"] == ["could not be read", "zero score"]
    assert kinds["hang"] == ["time limit"] and kinds["starter"] == ["zero score"]
    summary = (graded / "summary.txt").read_text()
    line = [ln for ln in summary.splitlines() if "SyntaxError" in ln]
    assert len(line) == 1 and line[0].endswith("; scored 0 of 100"), line
    assert line[0].startswith(f"  syntax: SyntaxError in rnn_layers.py line {_def_line()}: ")
    assert ", line " not in line[0]  # the location once, from the fields, not the text too
    assert "buggy, buggy2" in summary  # who made the mistake


def _def_line() -> int:
    text = (SOLUTIONS / "rnn_layers.py").read_text().splitlines()
    return next(i for i, line in enumerate(text, 1) if line.startswith("def rnn_forward("))


def test_gradebook_cells_are_inert(graded):
    with open(graded / "grades.csv", newline="") as f:
        rows = list(csv.reader(f))
    names = [row[0] for row in rows[1:]]
    for cell in (cell for row in rows for cell in row):
        assert cell[:1] not in "=+-@\t\r" or cell == "", cell
        assert not any(ord(c) < 32 or 0x7f <= ord(c) < 0xa0 for c in cell), repr(cell)
    assert "'" + FORMULA in names
    assert "' ctrl[2Jname" in names  # TAB, CR, ESC and BEL gone; TAB-start quoted


@pytest.mark.parametrize("raw, cell", [
    ("alice", "alice"), ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "' =1"), ("\r=1", "'=1"), ("  =1", "'  =1"), ("a\x1b[31mb", "a[31mb"),
    ("x\u202eevil", "xevil"), ("中文 名字", "中文 名字"),
])
def test_csv_cells_never_start_a_formula_or_hold_control_characters(raw, cell):
    assert batch_report.csv_cell(raw) == cell


def test_feedback_file_names_stay_inside_the_folder_and_differ():
    names = ["alice", "Alice", "../../etc/passwd", "a/b", "x\r", "x\n", "", ".hidden", "bob "]
    files = batch_pages.feedback_files(names)
    assert files["alice"] == "alice.html"
    assert len({f.lower() for f in files.values()}) == len(names)
    for file in files.values():
        assert "/" not in file and not file.startswith(".") and file.endswith(".html")
        assert all(c.isalnum() or c in "._- " for c in file), file


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if executable() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; "
                    ".ci/run installs it when run as root)")
    page = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield page
    page.close()


def test_report_renders_in_chromium_and_every_student_link_opens_their_feedback(graded, browser):
    browser.goto((graded / "report.html").as_uri())
    assert browser.js("document.title") == "RNN homework: class report"
    assert browser.js("document.querySelector('img').complete && "
                      "document.querySelector('img').naturalWidth") == 640  # the histogram
    assert browser.js("document.querySelectorAll('img').length") == 1  # no injected <img>
    assert browser.js("window.hacked") is None
    assert browser.js("document.querySelectorAll('details.function').length") == 10
    look = browser.js("[...document.querySelectorAll('#look-first + table tr.look-first')]"
                      ".map(r => r.innerText)")
    assert len([row for row in look if "SyntaxError" in row]) == 1
    assert browser.js("document.body.innerText.split('SyntaxError').length - 1") == 1
    links = browser.js("[...document.querySelectorAll('#students-table a.feedback')]"
                       ".map(a => [a.textContent, a.href])")
    assert {batch_report.inert_text(n) for n in NAMES} == {text for text, _ in links}
    for text, href in links:
        browser.goto(href)
        assert browser.js("document.getElementById('student').textContent") == text
        assert browser.js("document.getElementById('score').innerText").startswith("Score: ")
        assert browser.js("window.hacked") is None and "../" not in href.split("/feedback/")[1]
    browser.goto((graded / "feedback" / "buggy.html").as_uri())
    body = browser.js("document.body.innerText")
    score = json.loads((graded / "results" / "buggy.json").read_text())["score"]
    assert "np.add.at" in body and "To fix" in body and f"{score:g} / 100" in body


def test_students_table_sorts_by_score_in_the_browser(graded, browser):
    browser.goto((graded / "report.html").as_uri())
    assert browser.js("document.getElementById('students-table').classList"
                      ".contains('sortable-ready')")
    scores = "[...document.querySelectorAll('#students-table tbody tr')].map(r => " \
             "Number(r.cells[1].dataset.value))"
    browser.js("document.querySelector('#students-table th:nth-child(2)').click()")
    ascending = browser.js(scores)
    assert ascending == sorted(ascending) and ascending[0] == 0 and ascending[-1] == 100
    browser.js("document.querySelector('#students-table th:nth-child(2)').click()")
    assert browser.js(scores) == sorted(ascending, reverse=True)


# ---- the gradebook: per-function totals and flags; per-test columns apart ---------------

def _csv(path: Path) -> dict[str, dict]:
    with open(path, newline="") as f:
        return {row["submission"]: row for row in csv.DictReader(f)}


def test_gradebook_flags_what_went_wrong_beyond_wrong_answers(graded):
    rows = _csv(graded / "grades.csv")
    flags = {name: row["flags"] for name, row in rows.items() if row["flags"]}
    assert flags == {"syntax": "syntax error", "hang": "timeout", "broken": "unreadable"}
    assert float(rows["buggy"]["word_embedding_backward"]) == 0
    assert float(rows["buggy"]["word_embedding_forward"]) > 0
    assert set(_csv(graded / "grades_tests.csv")) == set(rows)


def _record(name: str, tests: list[tuple[str, float, float, str]], **extra) -> dict:
    """A grade-all record with these (test name, score, max_score, status) tests."""
    entries = [{"name": n, "score": s, "max_score": m, "status": status, **extra}
               for n, s, m, status in tests]
    return {"score": sum(s for _, s, _, _ in tests), "max_score": sum(m for _, _, m, _ in tests),
            "tests": entries, "output": "", "submission": {"name": name, "grader_error": ""}}


def test_per_function_totals_come_from_the_test_names(tmp_path):
    tests = [("f: a", 1.0, 1.0, "passed"), ("f: b", 0.5, 2.0, "failed"),
             ("g.m: a", 0.0, 3.0, "timeout"), ("h: provided", 0.0, 0.0, "passed")]
    records = {"ann": _record("ann", tests)}
    batch_report.write_gradebook(batch_report.analyse(records), records, tmp_path)
    row = _csv(tmp_path / "grades.csv")["ann"]
    assert list(row) == ["submission", "total", "max_score", "flags", "f", "g.m"]  # h: 0 points
    assert (row["total"], row["f"], row["g.m"], row["flags"]) == ("1.5", "1.5", "0", "timeout")
    assert list(_csv(tmp_path / "grades_tests.csv")["ann"])[4:] == [t[0] for t in tests]


def test_per_function_totals_prefer_a_structured_field(tmp_path):
    records = {"ann": _record("ann", [("rnn_forward (case 1)", 1.0, 1.0, "passed")],
                              function="rnn_forward")}
    batch_report.write_gradebook(batch_report.analyse(records), records, tmp_path)
    assert _csv(tmp_path / "grades.csv")["ann"]["rnn_forward"] == "1"


def test_a_grader_failure_is_flagged_in_the_gradebook(tmp_path):
    from autograder.classroom import store as batch_store

    sub = batch_store.Submission("ann", tmp_path)
    records = {"ann": batch_store.error_record(sub, "sha", "v1", "Traceback: boom")}
    batch_report.write_gradebook(batch_report.analyse(records), records, tmp_path)
    row = _csv(tmp_path / "grades.csv")["ann"]
    assert row["flags"] == "grader error" and row["total"] == "0"


# ---- the report at 1280 px -------------------------------------------------------------

SCREEN = 1280  # px, a laptop's screen
FONT, SMALL = 14, 11  # px: the page's font and the function headers' (the styles say so)
CHAR = 0.62  # a character's width in em, on the wide side for system-ui's letters
PAD, SCROLLBAR = 16, 17  # px: a cell's padding left + right; a vertical scrollbar


class _Table(html.parser.HTMLParser):
    """The students table's header cells (class, text segments between <wbr>) and the
    text of its cells by column."""

    def __init__(self):
        super().__init__()
        self.inside, self.cell, self.heads, self.columns, self.column = False, None, [], {}, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "students-table":
            self.inside = True
        elif self.inside and tag == "tr":
            self.column = 0
        elif self.inside and tag in ("th", "td"):
            self.cell = {"tag": tag, "class": attrs.get("class", ""), "segments": [""]}
        elif self.inside and tag == "wbr" and self.cell:
            self.cell["segments"].append("")

    def handle_data(self, data):
        if self.cell:
            self.cell["segments"][-1] += data

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("th", "td") and self.cell:
            if self.cell["tag"] == "th":
                self.heads.append(self.cell)
            else:
                self.columns.setdefault(self.column, []).append("".join(self.cell["segments"]))
            self.cell, self.column = None, self.column + 1


def _css_em(css: str, selector: str, prop: str) -> float:
    found = re.findall(rf"{re.escape(selector)}\s*\{{[^}}]*{prop}:\s*([\d.]+)em", css)
    assert found, f"no {prop} in em for {selector}"
    return float(found[-1])


def test_students_table_fits_1280_px_with_the_flags_column_on_screen(graded):
    """Without a browser: the flags come right after the score, the table is laid out
    fixed at the page's width (no column can push another past the edge), and at 1280 px
    each function's column is wide enough for its header's longest unbreakable part and
    its scores (characters counted at a generous width)."""
    page = (graded / "report.html").read_text()
    css = page[page.index("<style>"):page.index("</style>")]
    table = _Table()
    table.feed(page)
    assert [h["class"] for h in table.heads[:3]] == ["name", "score", "flags"]
    assert ["".join(h["segments"]) for h in table.heads[:3]] == ["submission", "score", "flags"]
    assert re.search(r"#students-table\s*\{[^}]*table-layout:\s*fixed;\s*width:\s*100%", css)
    body = min(_css_em(css, "body", "max-width") * FONT, SCREEN - SCROLLBAR - 2 * FONT)
    fixed = sum(_css_em(css, f"#students-table th.{c}", "width") * FONT + PAD
                for c in ("name", "score", "flags"))
    functions = table.heads[3:]
    assert len(functions) == 9 and all(h["class"] == "fn" for h in functions)
    share = (body - fixed) / len(functions)
    for i, head in enumerate(functions, start=3):
        header = max(len(s) for s in head["segments"]) * CHAR * SMALL
        scores = max(len(text.strip()) for text in table.columns[i]) * CHAR * FONT
        assert max(header, scores) + PAD <= share, ("".join(head["segments"]), share)
    flags = max(len(word) for text in table.columns[2] for word in text.split() or [""])
    assert flags * CHAR * FONT + PAD <= _css_em(css, "#students-table th.flags", "width") * FONT + PAD


def test_report_at_1280_px_in_chromium_shows_every_column(graded, browser):
    browser.call("Emulation.setDeviceMetricsOverride", width=SCREEN, height=900,
                 deviceScaleFactor=1, mobile=False)
    try:
        browser.goto((graded / "report.html").as_uri())
        assert browser.js("document.documentElement.scrollWidth") <= SCREEN
        edges = browser.js("[...document.querySelectorAll('#students-table th, "
                           "#students-table td')].map(c => [c.getBoundingClientRect().right, "
                           "c.scrollWidth - c.clientWidth])")
        assert edges and all(right <= SCREEN and overflow <= 0 for right, overflow in edges)
        flags = browser.js("[...document.querySelectorAll('#students-table td.flags')]"
                           ".map(c => c.innerText)")
        assert "syntax error" in flags and "timeout" in flags and "unreadable" in flags
    finally:
        browser.call("Emulation.clearDeviceMetricsOverride")
