"""Broken submissions get a valid result and a clear message (issue 6).

Each recipe builds a submission from the reference (or junk) and says which functions
must keep their points, which must lose them and what the feedback must say. Results
are always strict JSON.
"""
import dataclasses
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from autograder.judging.checks import CHECKS
from autograder.config import DEFAULT
from autograder.judging.grade import grade
from conftest import SOLUTIONS

CONFIG = dataclasses.replace(DEFAULT, timeout_scale=0.2)
LAYERS = ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
          "word_embedding_forward", "word_embedding_backward"]


def _reference(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in SOLUTIONS.glob("*.py"):
        shutil.copy(path, folder / path.name)
    return folder


def _edit(folder: Path, name: str, old: str, new: str) -> None:
    text = (folder / name).read_text()
    assert text.count(old) == 1, old
    (folder / name).write_text(text.replace(old, new))


def _zip(folder: Path, archive: Path, prefix: str = "", extra=()) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.glob("*.py"):
            zf.write(path, prefix + path.name)
        for name, data in extra:
            zf.writestr(name, data)
    return archive


def _strict(result) -> dict:
    return json.loads(json.dumps(result.to_gradescope(), allow_nan=False))


def _lost(result) -> set:
    return {t.target for t in result.tests if t.score < t.max_score}


# ---- packaging -------------------------------------------------------------------------

def test_zip_nested_one_folder_deeper_with_macosx_junk_and_stale_copies(tmp_path):
    ref = _reference(tmp_path / "ref")
    stale = tmp_path / "stale"
    _reference(stale)
    _edit(stale, "rnn_layers.py", "out = W[x]  # (N, T, D)", "out = W[x] * 0")
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in ref.glob("*.py"):
            zf.write(path, "homework/" + path.name)
            zf.write(stale / path.name, "homework/old/" + path.name)
            zf.writestr("__MACOSX/homework/._" + path.name, b"\x00\x05\x16\x07junk")
    result = grade(archive, CONFIG)
    assert result.score == 100, result.output
    assert "homework" in result.output
    _strict(result)


def test_utf8_bom_crlf_and_wrong_case_grade_normally(tmp_path):
    folder = _reference(tmp_path / "s")
    for name in ("rnn_layers.py", "rnn_classifier.py"):
        text = (folder / name).read_text()
        (folder / name).write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    (folder / "rnn_layers.py").rename(folder / "RNN_Layers.py")
    result = grade(folder, CONFIG)
    assert result.score == 100, [t.output for t in result.tests if t.score < t.max_score][:2]
    assert "RNN_Layers.py should be named rnn_layers.py" in result.output


def test_the_folder_holding_both_files_is_graded_and_upper_case_suffixes_count(tmp_path):
    """An empty Rnn_Classifier.PY at the top does not hide the real files one folder
    down; files named RNN_Layers.PY are graded as rnn_layers.py (with a note)."""
    root = tmp_path / "s"
    _reference(root / "homework")
    (root / "Rnn_Classifier.PY").write_text("")
    result = grade(root, CONFIG)
    assert result.score == 100 and "homework" in result.output, result.output
    upper = tmp_path / "u"
    upper.mkdir()
    for path in SOLUTIONS.glob("rnn_*.py"):
        (upper / path.name.upper()).write_bytes(path.read_bytes())
    result = grade(upper, CONFIG)
    assert result.score == 100 and "should be named rnn_layers.py" in result.output


def test_missing_file_costs_only_its_tests(tmp_path):
    folder = _reference(tmp_path / "s")
    (folder / "rnn_classifier.py").unlink()
    result = grade(folder, CONFIG)
    assert _lost(result) == {t.target for t in result.tests
                             if t.target.startswith("RNNClassifier") and t.max_score > 0}
    assert "rnn_classifier.py is missing" in result.output
    _strict(result)


def test_a_notebook_only_says_what_to_submit(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "RNN.ipynb").write_text('{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}')
    result = grade(folder, CONFIG)
    assert result.score == 0
    assert "RNN.ipynb" in result.output and "rnn_layers.py" in result.output
    _strict(result)


@pytest.mark.parametrize("content,what", [
    (b"this is not a zip", "not a folder or a readable .zip"),
    (b"PK\x03\x04" + b"\x00" * 40, "not a folder or a readable .zip"),
])
def test_not_a_zip(tmp_path, content, what):
    archive = tmp_path / "s.zip"
    archive.write_bytes(content)
    result = grade(archive, CONFIG)
    assert result.score == 0 and what in result.output
    _strict(result)


def test_zip_bomb_is_refused(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("rnn_layers.py", b"#" * (200 << 20))
    assert archive.stat().st_size < 1 << 20
    result = grade(archive, CONFIG)
    assert result.score == 0 and "unpacks to more than" in result.output
    _strict(result)


def test_zip_entries_escaping_and_symlinks_outside_are_ignored(tmp_path):
    ref = _reference(tmp_path / "ref")
    archive = _zip(ref, tmp_path / "s.zip", extra=[("../../escape.py", "x = 1"),
                                                  ("/tmp/abs_escape.py", "x = 1")])
    result = grade(archive, CONFIG)
    assert result.score == 100
    assert not (tmp_path / "escape.py").exists() and not Path("/tmp/abs_escape.py").exists()
    folder = _reference(tmp_path / "linked")
    (folder / "rnn_classifier.py").unlink()
    (folder / "rnn_classifier.py").symlink_to(SOLUTIONS / "rnn_classifier.py")
    result = grade(folder, CONFIG)
    assert "rnn_classifier.py is missing" in result.output


def test_a_graded_file_too_large_is_not_read_and_other_large_files_cost_nothing(tmp_path):
    folder = _reference(tmp_path / "s")
    (folder / "big_helper.py").write_bytes(b"#" * (3 << 20))
    (folder / "checkpoint.npz").write_bytes(b"\0" * (3 << 20))
    result = grade(folder, CONFIG)
    assert result.score == 100 and "big_helper" not in result.output, result.output
    with open(folder / "rnn_classifier.py", "a") as f:
        f.write("#" * (3 << 20))
    result = grade(folder, CONFIG)
    assert "rnn_classifier.py is larger than 2 MB: not graded" in result.output
    assert _lost(result) == {t.target for t in result.tests
                             if t.target.startswith("RNNClassifier") and t.max_score > 0}


# ---- code that does not load -------------------------------------------------------

@pytest.mark.parametrize("old,new,where", [
    ("def rnn_backward(dh, cache):", "def rnn_backward(dh, cache)", "rnn_layers.py:"),
    ("    out = W[x]  # (N, T, D)", "      out = W[x]  # (N, T, D)", "rnn_layers.py:"),
])
def test_syntax_and_indentation_errors_name_file_and_line(tmp_path, old, new, where):
    folder = _reference(tmp_path / "s")
    _edit(folder, "rnn_layers.py", old, new)
    result = grade(folder, CONFIG)
    layer_tests = [t for t in result.tests if t.target in LAYERS]
    assert all(t.score == 0 for t in layer_tests)
    assert all(where in t.output and ("SyntaxError" in t.output or "IndentationError" in t.output)
               for t in layer_tests), layer_tests[0].output
    _strict(result)


def test_non_utf8_bytes_in_a_comment_grade_normally_in_code_say_file_and_line(tmp_path):
    folder = _reference(tmp_path / "s")
    text = (folder / "rnn_layers.py").read_bytes()
    (folder / "rnn_layers.py").write_bytes(text.replace(b"import numpy as np", b"import numpy as np  # caf\xe9", 1))
    assert grade(folder, CONFIG).score == 100
    (folder / "rnn_layers.py").write_bytes(text.replace(b"import numpy as np", b"import numpy as np\nNAME = 'caf\xe9'", 1))
    result = grade(folder, CONFIG)
    test = next(t for t in result.tests if t.target == "rnn_forward")
    assert test.score == 0 and "rnn_layers.py:" in test.output and "utf-8" in test.output.lower(), test.output


@pytest.mark.parametrize("code,message", [
    ("raise ValueError('broken at import')", "broken at import"),
    ("import torch_that_is_not_installed", "No module named 'torch_that_is_not_installed'"),
    ("input('your name? ')", "EOFError"),
])
def test_import_time_failures_are_reported_per_test(tmp_path, code, message):
    folder = _reference(tmp_path / "s")
    (folder / "rnn_layers.py").write_text((folder / "rnn_layers.py").read_text() + "\n" + code + "\n")
    result = grade(folder, CONFIG)
    for test in result.tests:
        if test.target in LAYERS:
            assert test.score == 0 and message in test.output, test.output
    _strict(result)


def test_an_import_that_raises_runs_once_per_process(tmp_path):
    """A module slow to fail costs its time once: every test reports the first failure."""
    folder = _reference(tmp_path / "s")
    (folder / "rnn_layers.py").write_text(  # counted where a re-import would see it
        "import builtins\nbuiltins.imports = getattr(builtins, 'imports', 0) + 1\n"
        "raise ValueError(f'import number {builtins.imports}')\n")
    result = grade(folder, CONFIG)
    layer_tests = [t for t in result.tests if t.target in LAYERS]
    assert layer_tests and all("import number 1" in t.output for t in layer_tests), \
        [t.output for t in layer_tests if "import number 1" not in t.output][:2]


# ---- wrong values: only the broken function loses points ----------------------------

@pytest.mark.parametrize("old,new,target,says", [
    ("    return next_h, cache\n", "    return None\n", "rnn_step_forward", "returned a NoneType"),
    ("    return next_h, cache\n", "    return next_h.tolist(), cache\n", "rnn_step_forward", "list"),
    ("    return next_h, cache\n", "    return next_h\n", "rnn_step_forward", "expected a tuple"),
    ("    return next_h, cache\n", "    return next_h.T, cache\n", "rnn_step_forward", "returned next_h of shape"),
    ("    return next_h, cache\n", "    return next_h.astype(int), cache\n", "rnn_step_forward", "next_h"),
    ("    return next_h, cache\n", "    return next_h.astype(np.float64), cache\n", "rnn_step_forward", "float32"),
    ("    return dW\n", "    return dW, 0\n", "word_embedding_backward", "dW"),
    ("def word_embedding_forward(x, W):", "def word_embedding_forward(x):", "word_embedding_forward",
     "positional argument"),
    ("    return dW\n", "    return np.full(dW.shape, np.nan)\n", "word_embedding_backward", "NaN"),
    ("    return dW\n", "    def f(n):\n        return f(n + 1)\n    return f(0)\n",
     "word_embedding_backward", "RecursionError"),
])
def test_a_broken_function_costs_only_its_own_points(tmp_path, old, new, target, says):
    folder = _reference(tmp_path / "s")
    _edit(folder, "rnn_layers.py", old, new)
    result = grade(folder, CONFIG)
    lost = _lost(result)
    dependants = {"rnn_step_forward": {"rnn_step_backward"},
                  "word_embedding_forward": {"word_embedding_backward"}}.get(target, set())
    assert target in lost and lost <= {target} | dependants, lost
    failing = [t for t in result.tests if t.target == target and t.score < t.max_score]
    assert any(says in t.output and target in t.output + t.name for t in failing), failing[0].output
    _strict(result)


# ---- layouts the filesystem refuses (issue 10) -------------------------------------------

def _zip_entries(archive: Path, entries) -> Path:
    """A zip made entry by entry: (name, data) pairs, names kept exactly as given."""
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in entries:
            zf.writestr(zipfile.ZipInfo(name), data)
    return archive


def _reference_entries(prefix: str = "") -> list:
    return [(prefix + p.name, p.read_bytes()) for p in sorted(SOLUTIONS.glob("*.py"))]


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("extra", [
    [("rnn_helpers.py", b"x = 1"), ("rnn_helpers.py/inner.py", b"x = 2")],
    [("notes/" + "n" * 300 + ".py", b"x = 1")],
    [("/etc/evil.py", b"x = 1")],
    [("../evil.py", b"x = 1"), ("../rnn_layers.py", b"raise SystemExit")],
    [("a/" * 40 + "deep.py", b"x = 1")],
    [("rnn_layers.py/x.py", b"x = 1")],
])
def test_zip_entries_the_grader_does_not_grade_are_ignored_whatever_they_are(tmp_path, extra):
    """Next to the same zip without the odd entries: the same score, and not a word
    (nothing of them is unpacked: no name is too long or leaves a folder)."""
    plain = grade(_zip_entries(tmp_path / "plain.zip", _reference_entries()), CONFIG)
    result = grade(_zip_entries(tmp_path / "odd.zip", _reference_entries() + extra), CONFIG)
    assert plain.score == result.score == 100, result.output
    assert result.output == plain.output


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_a_graded_file_twice_in_a_zip_uses_the_last_copy_with_a_note(tmp_path):
    entries = [("rnn_layers.py", b"raise RuntimeError('stale copy')")] + _reference_entries()
    result = grade(_zip_entries(tmp_path / "odd.zip", entries), CONFIG)
    assert result.score == 100 and "twice: the last copy was used" in result.output
    _strict(result)


def test_zip_with_names_that_are_not_utf8_says_so(tmp_path):
    archive = _zip(_reference(tmp_path / "ref"), tmp_path / "s.zip")
    data = bytearray(archive.read_bytes())
    # flag the first entry's name as UTF-8 (bit 11) and put a byte UTF-8 forbids in it
    name_at = data.index(b"rnn_", data.index(b"PK\x01\x02"))
    central = data.rindex(b"PK\x01\x02", 0, name_at)  # the header of that same entry
    data[name_at] = 0xFF
    data[central + 9] |= 0x08
    archive.write_bytes(bytes(data))
    result = grade(archive, CONFIG)
    assert "not valid UTF-8 and were skipped" in result.output, result.output
    assert result.score < 100 and "is missing" in result.output
    _strict(result)


def test_legacy_zip_names_are_graded_and_shown_inertly(tmp_path):
    """Names without the UTF-8 flag are read as cp437 (what zipfile does): any bytes."""
    entries = _reference_entries("caf\u00e9 \u00bb/") + [("caf\u00e9 \u00bb/x\x1b[2J.py", b"")]
    result = grade(_zip_entries(tmp_path / "s.zip", entries), CONFIG)
    assert result.score == 100
    assert "\x1b" not in json.dumps(result.to_gradescope(), ensure_ascii=False)


def test_a_folder_with_undecodable_and_control_character_names_gives_valid_results(tmp_path):
    folder = _reference(tmp_path / "s")
    os.mkdir(os.fsencode(folder) + b"/old\xff\x1b[31m")
    open(os.fsencode(folder) + b"/old\xff\x1b[31m/rnn_layers.py", "wb").close()
    (folder / "RNN_Layers\rX.py").write_text("x = 1")
    (folder / "rnn_layers.py").rename(folder / "RNN_LAYERS.py")
    result = grade(folder, CONFIG)
    assert result.score == 100, result.output
    text = json.dumps(result.to_gradescope(), ensure_ascii=False)
    assert not any(c in text for c in "\x1b\r\x08") and "\\ud" not in text
    result.write_json(tmp_path / "results.json")  # strict UTF-8 JSON on disk
    json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))


# ---- the grader's own failures: per-test errors, exit 0 (issue 10) -----------------------

INTERNAL = "could not grade this part: internal error, not a verdict on your code"


def test_a_failing_judge_is_an_internal_error_of_its_tests_only(tmp_path, monkeypatch):
    from autograder.judging import judges

    def broken(*args):
        raise ZeroDivisionError("a bug of the grader")
    monkeypatch.setitem(judges.JUDGES, "predict", broken)
    monkeypatch.setitem(judges.JUDGES, "predict_each", broken)
    result = grade(_reference(tmp_path / "s"), CONFIG)
    for test in result.tests:
        if test.target == "RNNClassifier.predict":
            assert test.status == "error" and INTERNAL in test.output and test.score == 0
        else:
            assert test.score == test.max_score, test.name
    _strict(result)


def test_a_grader_crash_mid_grading_still_lists_every_test(tmp_path, monkeypatch):
    from autograder.judging import run_cases

    calls = []

    def crash(run, check, case, *rest):
        calls.append(check.target)
        if len(calls) > 3:
            raise MemoryError("the grader ran out of memory")
        return original(run, check, case, *rest)
    original = run_cases._grade_case
    monkeypatch.setattr(run_cases, "_grade_case", crash)
    result = grade(_reference(tmp_path / "s"), CONFIG)
    names = [f"{c.target}: {c.what}, {case.label}" for c in CHECKS for case in c.cases]
    assert [t.name for t in result.tests] == names
    assert sum(t.status == "passed" for t in result.tests) == 3
    assert all(INTERNAL in t.output for t in result.tests[3:])
    assert INTERNAL in result.output
    _strict(result)


def _run_command(submission, out, config):
    import argparse
    from autograder import grade_command
    return grade_command.run(argparse.Namespace(submission=submission, output=out,
                                                no_colour=True), config)


def test_the_command_exits_0_and_writes_results_whatever_grade_raises(tmp_path, monkeypatch,
                                                                      capsys):
    from autograder.judging import grade as grade_module

    def explode(source, config):
        raise RecursionError("deep inside the grader")
    monkeypatch.setattr(grade_module, "grade", explode)
    out = tmp_path / "results.json"
    code = _run_command(tmp_path, out, CONFIG)
    data = json.loads(out.read_text())
    assert data["score"] == 0 and "internal error, not a verdict on your code" in data["output"]
    assert code == 2  # grade() itself failing is the grader's installation, not the student


def test_a_broken_installation_exits_2_with_a_results_file(tmp_path):
    config = dataclasses.replace(CONFIG, solutions_dir=tmp_path / "no-solutions")
    out = tmp_path / "results.json"
    code = _run_command(_reference(tmp_path / "s"), out, config)
    data = json.loads(out.read_text())
    assert code == 2
    assert data["score"] == 0 and len(data["tests"]) == sum(len(c.cases) for c in CHECKS)
    assert all(INTERNAL in t["output"] for t in data["tests"])


def test_an_ordinary_bad_submission_exits_0(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "rnn_layers.py").write_text("raise SystemExit(3)\n")
    out = tmp_path / "results.json"
    assert _run_command(folder, out, CONFIG) == 0
    assert json.loads(out.read_text())["score"] == 0


# ---- usage errors are errors (issue 22) ---------------------------------------------------

@pytest.mark.parametrize("make,why", [
    (lambda p: p / "no such student", "no such file or folder"),
    (lambda p: (p / "rnn_layers.py").write_text("x = 1") and p / "rnn_layers.py",
     "neither a folder nor a .zip file"),
    (lambda p: os.mkfifo(p / "pipe") or p / "pipe", "neither a folder nor a .zip file"),
], ids=["missing", "a .py file", "a named pipe"])
def test_grade_on_a_path_that_is_no_submission_exits_2_with_one_line_and_no_results(
        tmp_path, make, why):
    import subprocess
    import sys
    from conftest import ROOT

    (tmp_path / "in").mkdir()
    path = make(tmp_path / "in")
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "autograder", "grade",
                           os.path.relpath(path, tmp_path), "--output", str(out)],
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr == f"grade: {path}: {why}" + (
        " (expected a folder or a .zip)\n" if why.startswith("no such") else "\n")
    assert done.stdout == "" and not out.exists()
