"""`make release`: markers, starters, the nbgrader notebook, the leak scan, determinism.

The real release (nbgrader included) runs twice in this file, in one module fixture;
everything else works on small files written to tmp folders.
"""
import contextlib
import dataclasses
import io
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.config import DEFAULT
from autograder.release import (BannerError, LeakError, MarkerError, StarterError, build,
                                kit, leaks, release, starter)
from autograder.release.markers import HIDDEN_TESTS, SOLUTION, find_regions

ROOT = DEFAULT.root
SOLUTIONS = DEFAULT.solutions_dir / DEFAULT.assignment
SOURCE = DEFAULT.source_dir / DEFAULT.assignment
COMMITTED = DEFAULT.release_dir / DEFAULT.assignment

LAYER_TODOS = ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
               "word_embedding_forward", "word_embedding_backward")
CLASSIFIER_TODOS = ("RNNClassifier.loss", "RNNClassifier.train")


def _files(folder: Path) -> dict[str, bytes]:
    """{relative path: bytes}, without the caches git ignores (a local run of the
    released notebook leaves __pycache__ / .ipynb_checkpoints in assignment/)."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()
            and not {"__pycache__", ".ipynb_checkpoints", "datasets"}
            & set(p.relative_to(folder).parts)}


def _module(tmp_path: Path, source: str, name: str = "mod.py") -> Path:
    folder = tmp_path / "solutions"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return folder


# --------------------------------------------------------------------------- markers

@pytest.mark.parametrize("lines, markers, whole_line, expected", [
    (["a", "### BEGIN SOLUTION", "b", "### END SOLUTION"], SOLUTION, True, [(2, 4, "")]),
    (["def f():", "    ### BEGIN SOLUTION", "    x = 1", "    ### END SOLUTION",
      "    ### BEGIN SOLUTION", "    ### END SOLUTION"], SOLUTION, True,
     [(2, 4, "    "), (5, 6, "    ")]),
    (["ok()", "### BEGIN HIDDEN TESTS", "secret()", "### END HIDDEN TESTS"], HIDDEN_TESTS,
     True, [(2, 4, "")]),
    (["nothing marked here"], SOLUTION, True, []),
    # notebook cells, parsed as nbgrader does: the marker words anywhere in a line
    (["x = 1  # BEGIN SOLUTION", "y", "# END SOLUTION"], SOLUTION, False, [(1, 3, "")]),
], ids=["one region", "two indented regions", "hidden tests", "none", "nbgrader style"])
def test_markers_are_parsed_into_regions(lines, markers, whole_line, expected):
    regions = find_regions(lines, "f.py", markers, whole_line)
    assert [(r.begin, r.end, r.indent) for r in regions] == expected


BANNER = "    # TODO: f (1 line)\n    # 1. do it\n"
MALFORMED = [
    # (case, module source, error class, line named in the message)
    ("BEGIN without END",
     "def f():\n" + BANNER + "    ### BEGIN SOLUTION\n    return 1\n", MarkerError, 4),
    ("END without BEGIN",
     "def f():\n" + BANNER + "    return 1\n    ### END SOLUTION\n", MarkerError, 5),
    ("nested BEGIN",
     "def f():\n" + BANNER + "    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n"
     "    return 1\n    ### END SOLUTION\n", MarkerError, 5),
    ("marker not on a line of its own",
     "def f():\n" + BANNER + "    return 1  ### BEGIN SOLUTION\n", MarkerError, 4),
    ("no banner above the region",
     "def f():\n    x = 0\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n",
     BannerError, 3),
    ("banner not starting with # TODO",
     "def f():\n    # compute it\n    ### BEGIN SOLUTION\n    return 1\n"
     "    ### END SOLUTION\n", BannerError, 3),
    ("region outside any function",
     "# TODO: a constant\n### BEGIN SOLUTION\nX = 1\n### END SOLUTION\n", StarterError, 2),
]


@pytest.mark.parametrize("case, source, error, line", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_module_fails_naming_file_and_line(tmp_path, case, source, error, line):
    folder = _module(tmp_path, source)
    with pytest.raises(error, match=rf"mod\.py:{line}\b"):
        starter.prepare(folder, ("mod.py",))


# --------------------------------------------------------------------------- starters

SMALL_MODULE = '''
import numpy as np


def affine(x, w):
    """Doc."""
    # TODO: affine (1 line)
    # 1. out = x w                                  (N, M)
    ### BEGIN SOLUTION
    out = x @ w
    ### END SOLUTION
    return out


class Model:
    def __init__(self):
        self.w = np.ones(2)

    def step(self, lr):
        for k in range(3):
            # TODO: Model.step (1 line)
            ### BEGIN SOLUTION
            self.w -= lr * k
            ### END SOLUTION
        return self.w
'''


@pytest.fixture
def small_starter(tmp_path):
    folder = _module(tmp_path, SMALL_MODULE, "small.py")
    (folder / "helpers.py").write_bytes(b"def helper():\r\n    return 1  # CRLF kept\r\n")
    return {f.name: f for f in starter.prepare(folder, ("small.py",))}, folder


@pytest.mark.parametrize("expected_line", [
    '    raise NotImplementedError("affine: not implemented yet (see the TODO above)")',
    '            raise NotImplementedError("Model.step: not implemented yet (see the TODO above)")',
])
def test_starter_replaces_each_region_by_one_raise_naming_the_function(small_starter,
                                                                        expected_line):
    files, _ = small_starter
    assert expected_line in files["small.py"].data.decode().splitlines()
    assert files["small.py"].qualnames == ("affine", "Model.step")


def test_starter_keeps_banner_and_everything_outside_the_regions(small_starter):
    files, folder = small_starter
    starter_lines = files["small.py"].data.decode().splitlines()
    source_lines = (folder / "small.py").read_text().splitlines()
    regions = find_regions(source_lines, "small.py")
    inside = {n for r in regions for n in range(r.begin, r.end + 1)}
    kept = [line for n, line in enumerate(source_lines, start=1) if n not in inside]
    assert [line for line in starter_lines if "NotImplementedError" not in line] == kept
    assert "    # TODO: affine (1 line)" in starter_lines
    assert not any("BEGIN" in line or "x @ w" in line for line in starter_lines)


def test_provided_modules_are_copied_byte_for_byte(small_starter):
    files, folder = small_starter
    assert not files["helpers.py"].is_starter
    assert files["helpers.py"].data == (folder / "helpers.py").read_bytes()


def test_reference_todo_regions_are_the_contract_functions():
    files = {f.name: f for f in starter.prepare(SOLUTIONS, DEFAULT.student_modules)}
    assert files["rnn_layers.py"].qualnames == LAYER_TODOS
    assert set(files["rnn_classifier.py"].qualnames) == set(CLASSIFIER_TODOS)


# --------------------------------------------------------------------------- leak scan

def _meta(**fields):
    base = {"schema_version": 3, "locked": False, "solution": False, "grade": False,
            "points": 0, "grade_id": fields.pop("grade_id")}
    return {"nbgrader": {**base, **fields}}


def _fixture_notebook(path: Path) -> Path:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [
        new_code_cell("def square(x):\n    ### BEGIN SOLUTION\n    result = x * x\n"
                      "    ### END SOLUTION\n    return result",
                      metadata=_meta(grade_id="square", solution=True)),
        new_code_cell("assert square(2) == 4\n### BEGIN HIDDEN TESTS\n"
                      "assert square(3) == 9\nassert square(2) == 4\n### END HIDDEN TESTS",
                      metadata=_meta(grade_id="test_square", grade=True, locked=True,
                                     points=1)),
        new_markdown_cell("The square grows quadratically fast.",
                          metadata=_meta(grade_id="written", solution=True, grade=True,
                                         points=1)),
        # A demonstration that repeats the solution: it does not make the line public.
        new_code_cell("x = 3\nresult  =  x * x  # shown again", metadata=_meta(grade_id="demo")),
    ]
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index}"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("line, secret", [
    ("result = x * x", True),  # a solution region (shown again in a demo: still secret)
    ("assert square(3) == 9", True),  # a hidden test
    ("The square grows quadratically fast.", True),  # a written answer (no markers)
    ("assert square(2) == 4", False),  # a hidden test that is also a visible one
    ("return result", False),  # outside the region
    ("else:", False),  # too short to mean anything
])
def test_notebook_secrets_are_solution_and_hidden_test_lines(tmp_path, line, secret):
    notebook = _fixture_notebook(tmp_path / "Demo.ipynb")
    secrets = leaks.collect_secrets([], [notebook])
    assert (line in secrets) is secret


@pytest.mark.parametrize("released, leaks_it", [
    ("result = x * x", True),
    ("    result  =  x * x   # another comment", True),  # the same code, its comment changed
    ("result = x * x + 1", False),
    ("label = '# result = x * x'", False),  # a `#` inside a string is no comment
    ("if y is None:", False),  # leaks.TRIVIAL: gives nothing away
])
def test_scan_compares_code_with_and_without_its_comment(tmp_path, released, leaks_it):
    (tmp_path / "module.py").write_text(released + "\n", encoding="utf-8")
    secrets = {form: "solutions/x.py:3" for line in ("result = x * x  # (N, H)",
                                                     "if y is None:")
               for form in leaks.forms(line)}
    if leaks_it:
        with pytest.raises(LeakError, match=r"module\.py:1: solution line"):
            leaks.scan(tmp_path, secrets)
    else:
        leaks.scan(tmp_path, secrets)


@pytest.fixture(scope="module")
def real_release(tmp_path_factory):
    """The real release, built twice into tmp folders: (first, second, summary). The
    first run has no grading secret anywhere (and must not make one), the second another
    course's: the release never depends on the secret (issue 19)."""
    from autograder import secret

    out = tmp_path_factory.mktemp("release")
    no_secret = out / "no-secret.key"
    runs = []
    for name, course in (("first", None), ("second", "another course's secret")):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), \
                pytest.MonkeyPatch.context() as mp:
            mp.setattr(secret, "SECRET_FILE", no_secret)
            if course:
                mp.setenv(secret.ENVIRONMENT, course)
            else:
                mp.delenv(secret.ENVIRONMENT, raising=False)
            code = release(DEFAULT, release_dir=out / name)
        assert code == 0, printed.getvalue()
        runs.append(out / name / DEFAULT.assignment)
    assert not no_secret.exists(), "the release made a grading secret"
    return runs[0], runs[1], printed.getvalue()


def _secrets():
    return leaks.collect_secrets(sorted(SOLUTIONS.glob("*.py")), sorted(SOURCE.glob("*.ipynb")))


def test_release_contains_no_solution_line_or_hidden_test(real_release):
    first, _, summary = real_release
    report = leaks.scan(first, _secrets())
    assert report.files == len(_files(first)) and report.secrets > 0
    assert "leak scan OK" in summary


def _hidden_test_line() -> str:
    """A line of a hidden-test region of the source notebook, else of a solution region
    (the graded cells call the grader visibly: the notebook may have no hidden tests)."""
    for markers in (HIDDEN_TESTS, SOLUTION):
        for notebook in sorted(SOURCE.glob("*.ipynb")):
            for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
                lines = cell.source.split("\n")
                for region in find_regions(lines, f"cell {index}", markers, False):
                    for number in region.body:
                        if len(lines[number - 1].strip()) >= 8:
                            return lines[number - 1]
    raise AssertionError(f"{SOURCE} has no hidden test or solution region")


def _plant_in_py(folder: Path, name: str, line: str) -> None:
    with open(folder / name, "a", encoding="utf-8") as file:
        file.write(line + "\n")


def _plant_in_notebook(folder: Path, line: str) -> None:
    path = sorted(folder.glob("*.ipynb"))[0]
    nb = nbformat.read(path, as_version=4)
    nb.cells[-1].source += "\n" + line
    nbformat.write(nb, path)


PLANTED = [
    # (case, plant(folder), text the error must quote)
    ("solution line in a starter",
     lambda f: _plant_in_py(f, "rnn_layers.py", "    da = dnext_h * (1 - next_h**2)  # (N, H)"),
     r"rnn_layers\.py:\d+: solution line .*from solutions/rnn/rnn_layers\.py:\d+"),
    ("leftover marker in a provided file",
     lambda f: _plant_in_py(f, "gradient_check.py", "    ### BEGIN SOLUTION"),
     r"gradient_check\.py:\d+: leftover marker 'BEGIN SOLUTION'"),
    ("hidden test or solution line in the notebook",
     lambda f: _plant_in_notebook(f, _hidden_test_line()),
     r"\.ipynb cell \d+ line \d+: solution line .*from source_notebooks/rnn/.*\.ipynb cell"),
]


@pytest.mark.parametrize("case, plant, message", PLANTED, ids=[c[0] for c in PLANTED])
def test_planted_leak_is_caught_naming_file_line_and_source(real_release, tmp_path, case,
                                                            plant, message):
    copy = tmp_path / "rnn"
    shutil.copytree(real_release[0], copy)
    plant(copy)
    secrets = leaks.collect_secrets(sorted(SOLUTIONS.glob("*.py")),
                                    sorted(SOURCE.glob("*.ipynb")),
                                    label=lambda p: str(p.relative_to(ROOT)))
    with pytest.raises(LeakError, match=message):
        leaks.scan(copy, secrets, label=lambda p: str(p.relative_to(copy)))


def _solution_statement(module: str) -> str:
    """The first line of a solution region of `module` that is a statement on its own."""
    lines = (SOLUTIONS / module).read_text(encoding="utf-8").splitlines()
    for region in find_regions(lines, module, SOLUTION):
        for number in region.body:
            text = lines[number - 1].strip()
            try:
                compile(text, module, "exec")
            except SyntaxError:
                continue
            if len(leaks.forms(text)) and not text.startswith("#"):
                return text
    raise AssertionError(f"{module}: no solution line that stands on its own")


def _copied_sources(tmp_path: Path):
    """DEFAULT with its solutions and source notebooks copied to `tmp_path`."""
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")
    shutil.copytree(SOLUTIONS, tmp_path / "solutions" / DEFAULT.assignment, ignore=ignore)
    shutil.copytree(SOURCE, tmp_path / "source_notebooks" / DEFAULT.assignment, ignore=ignore)
    return dataclasses.replace(DEFAULT, solutions_dir=tmp_path / "solutions",
                               source_dir=tmp_path / "source_notebooks")


def _plant_in_provided_module(config, tmp_path, monkeypatch, line):
    with open(config.solutions_dir / DEFAULT.assignment / "rnn_lm.py", "a") as file:
        file.write(f"\n\ndef shown_to_students(scores, y):\n    {line}\n")


def _plant_in_demonstration_cell(config, tmp_path, monkeypatch, line):
    path = sorted((config.source_dir / DEFAULT.assignment).glob("*.ipynb"))[0]
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(len(nb.cells) // 2, new_code_cell(f"# a demonstration\n{line}"))
    nbformat.write(nb, path)


def _plant_in_kit(config, tmp_path, monkeypatch, line):
    package = tmp_path / "autograder"
    shutil.copytree(ROOT / "autograder", package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(package / "judging" / "engine.py", "a") as file:
        file.write(f"\n\ndef shown_to_students(scores, y):\n    {line}\n")
    monkeypatch.setattr(kit, "PACKAGE", package)


@pytest.mark.parametrize("plant, where", [
    (_plant_in_provided_module, r"rnn_lm\.py:\d+"),
    (_plant_in_demonstration_cell, r"RNN\.ipynb cell \d+ line 2"),
    (_plant_in_kit, r"rnnkit/judging/engine\.py:\d+"),
], ids=["provided module", "notebook", "kit"])
def test_a_solution_line_anywhere_in_the_release_fails_it(tmp_path, monkeypatch, plant,
                                                          where):
    """No source makes a solution line public: shown in a provided module, a
    demonstration cell or the kit, it hands the answer out, and the release fails."""
    line = _solution_statement("rnn_classifier.py")
    config = _copied_sources(tmp_path)
    plant(config, tmp_path, monkeypatch, line)
    previous = _previous_release(tmp_path / "assignment")
    with pytest.raises(LeakError, match=rf"{where}: solution line .*rnn_classifier\.py:\d+"):
        build(config, previous)
    assert _files(previous) == {"sentinel.txt": b"the previous release"}


# --------------------------------------------------------------------------- starters run

# Each TODO, called with small arrays of the contract's shapes. A backward function gets
# cache=None: the cache is the student's own, and the stub raises before reading it.
# train() calls loss() first, itself a TODO: `trainable` stands in a loss that returns
# zero gradients, so that the call reaches train's own stubs.
CALLS = {
    "rnn_step_forward": "L.rnn_step_forward(x[:, 0], h0, Wx, Wh, b)",
    "rnn_step_backward": "L.rnn_step_backward(h0, None)",
    "rnn_forward": "L.rnn_forward(x, h0, Wx, Wh, b)",
    "rnn_backward": "L.rnn_backward(np.ones((N, T, H)), None)",
    "word_embedding_forward": "L.word_embedding_forward(idx, W)",
    "word_embedding_backward": "L.word_embedding_backward(np.ones((N, T, D)), None)",
    "RNNClassifier.loss": "C.RNNClassifier(D, H, K, seed=0).loss(x, y)",
    "RNNClassifier.train": "trainable().train(x, y, x, y, batch_size=2, num_epochs=1, "
                           "verbose=False)",
}
PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import rnn_layers as L, rnn_classifier as C
assert L.__file__.startswith(sys.argv[1]) and C.__file__.startswith(sys.argv[1])
rng = np.random.default_rng(0)
N, T, D, H, K, V = 2, 3, 4, 5, 3, 6
x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
Wx, Wh, b = rng.standard_normal((D, H)), rng.standard_normal((H, H)), np.zeros(H)
idx, W, y = rng.integers(0, V, (N, T)), rng.standard_normal((V, D)), np.array([0, 2])
model = C.RNNClassifier(D, H, K, seed=0)  # __init__ is provided: it must work
assert sorted(model.params) == ["W_hh", "W_hq", "W_xh", "b_h", "b_q"]

def trainable():
    model = C.RNNClassifier(D, H, K, seed=0)
    model.loss = lambda X, y=None: (
        np.zeros((len(X), K)) if y is None
        else (1.0, {k: np.zeros_like(v) for k, v in model.params.items()}))
    return model

outcome = {}
for name, call in json.loads(sys.argv[2]).items():
    try:
        eval(call)
        outcome[name] = ["returned", ""]
    except Exception as err:
        outcome[name] = [type(err).__name__, str(err)]
print(json.dumps(outcome))
"""


@pytest.fixture(scope="module")
def starter_outcomes(real_release):
    """Import the released starters in a fresh interpreter (their flat names would clash
    with the reference on this process's sys.path) and call every TODO."""
    folder = str(real_release[0])
    done = subprocess.run([sys.executable, "-I", "-B", "-c", PROBE, folder, json.dumps(CALLS)],
                          capture_output=True, text=True, timeout=60, cwd=folder)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", CALLS)
def test_each_todo_raises_not_implemented_naming_its_function(starter_outcomes, name):
    kind, message = starter_outcomes[name]
    assert kind == "NotImplementedError"
    assert message.startswith(f"{name}: not implemented yet")


# --------------------------------------------------------------------------- determinism

def test_release_is_byte_identical_run_after_run_whatever_the_secret(real_release):
    first, second, _ = real_release
    assert _files(first) == _files(second)
    assert sorted(p.name for p in first.parent.iterdir()) == [DEFAULT.assignment]  # no debris


def test_committed_release_is_what_make_release_produces(real_release):
    built, committed = _files(real_release[0]), _files(COMMITTED)
    assert sorted(committed) == sorted(built), "run `make release` and commit assignment/"
    changed = [name for name in built if built[name] != committed[name]]
    assert not changed, f"stale in assignment/rnn (run `make release`): {changed}"


def test_provided_files_are_released_unchanged(real_release):
    released = _files(real_release[0])
    for path in SOLUTIONS.glob("*.py"):
        if path.name not in DEFAULT.student_modules:
            assert released[path.name] == path.read_bytes(), path.name


# --------------------------------------------------------------------------- failures

def _previous_release(release_dir: Path) -> Path:
    previous = release_dir / DEFAULT.assignment
    previous.mkdir(parents=True)
    (previous / "sentinel.txt").write_text("the previous release")
    return previous


def test_malformed_markers_fail_the_release_and_keep_the_previous_one(tmp_path, capsys):
    solutions = tmp_path / "solutions" / DEFAULT.assignment
    shutil.copytree(SOLUTIONS, solutions, ignore=shutil.ignore_patterns("__pycache__"))
    layers = solutions / "rnn_layers.py"
    lines = layers.read_text().splitlines(keepends=True)
    end = next(n for n, line in enumerate(lines) if line.strip() == "### END SOLUTION")
    layers.write_text("".join(lines[:end] + lines[end + 1:]))  # the first END is gone
    config = dataclasses.replace(DEFAULT, solutions_dir=tmp_path / "solutions")
    previous = _previous_release(tmp_path / "assignment")

    assert release(config, release_dir=tmp_path / "assignment") == 1
    assert "rnn_layers.py:" in capsys.readouterr().err
    assert _files(previous) == {"sentinel.txt": b"the previous release"}


def test_leak_fails_the_release_and_keeps_the_previous_one(tmp_path):
    """A stray copy of the reference in the notebook folder: nbgrader ships it, the scan
    must stop it (runs the real nbgrader on a small notebook)."""
    source = tmp_path / "source_notebooks" / DEFAULT.assignment
    _fixture_notebook(source / "Demo.ipynb")
    shutil.copyfile(SOLUTIONS / "rnn_layers.py", source / "reference.py")
    config = dataclasses.replace(DEFAULT, source_dir=tmp_path / "source_notebooks")
    previous = _previous_release(tmp_path / "assignment")

    with pytest.raises(LeakError, match=r"reference\.py:\d+: solution line"):
        build(config, previous)
    assert _files(previous) == {"sentinel.txt": b"the previous release"}
    assert sorted(p.name for p in previous.parent.iterdir()) == [DEFAULT.assignment]
