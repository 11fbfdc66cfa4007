"""Broken submissions get a valid result and a clear message (issue 6).

Each recipe builds a submission from the reference (or junk) and says which functions
must keep their points, which must lose them and what the feedback must say. Results
are always strict JSON.
"""
import dataclasses
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from autograder.config import DEFAULT
from autograder.grade import grade
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


def test_huge_files_are_ignored_with_a_note(tmp_path):
    folder = _reference(tmp_path / "s")
    (folder / "big_helper.py").write_bytes(b"#" * (3 << 20))
    result = grade(folder, CONFIG)
    assert result.score == 100 and "big_helper.py is larger than" in result.output


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
