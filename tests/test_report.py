"""The instructor's report and the students' feedback pages: what they say, that they
render in a real browser with every student's link working, and that nothing a student
controls (folder names, exception text) becomes markup, a formula or a control code."""
import json
import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import batch_pages, batch_report
from autograder.batch_store import load_records
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
