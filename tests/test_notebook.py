"""The notebook: nbgrader metadata, the chapter's sections, a run with the reference,
and a run of the released notebook with the untouched starter.

The source run executes `source_notebooks/rnn/RNN.ipynb` top to bottom in a real Jupyter
kernel, in a temporary folder that holds the notebook next to copies of the reference
modules and of the released self-check kit (as a student's folder would), on the real
CIFAR-10 subset when present and otherwise on small fake CIFAR-format files. The starter
run executes `assignment/rnn/RNN.ipynb` in a copy of `assignment/rnn/` as released: only
the cells that need the student's code may fail, each with the NotImplementedError
naming what is still to do.
"""
import os
import re
import shutil
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.nbgraderformat import MetadataValidator

from cifar_fake import write_fake_cifar
from conftest import RELEASE, ROOT, require_cifar_subset

NOTEBOOK = ROOT / "source_notebooks" / "rnn" / "RNN.ipynb"
RELEASED_NOTEBOOK = RELEASE / "RNN.ipynb"
EXECUTION_TIMEOUT = 300  # seconds for the whole notebook (the language model: about 1 minute)
# The notebook uses every image it finds, 1000 of them for validation: 5 fake batches of
# 900 give 3500 / 1000 / 900 train / validation / test.
FAKE_IMAGES_PER_BATCH = 900

LAYER_FUNCTIONS = ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
                   "word_embedding_forward", "word_embedding_backward"]
# Every graded target and the grade_ids of its autograded cells (one per graded function).
GRADED_TARGETS = {
    **{name: [f"{name}_graded"] for name in LAYER_FUNCTIONS},
    "RNNClassifier": ["rnn_classifier_loss_graded", "rnn_classifier_train_graded"],
}
# The last line of a graded cell: the grader's call for one function, with the cell's points.
GRADING_CALL = re.compile(r'grade_function\("(?P<target>[\w.]+)", points=(?P<points>\d+)\)\Z')
MARKERS = [("### BEGIN SOLUTION", "### END SOLUTION"),
           ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")]
FIGURE_CALL = re.compile(r"\bplt\.(plot|subplots|figure|imshow|bar|hist|loglog|semilogy)\(")
# Every seed topic of the chapter, in the order of the issue, and a pattern its section's
# heading matches (case-insensitive).
TOPICS = [
    ("why RNNs", r"why rnns"),
    ("step forward", r"step forward.*rnn_step_forward"),
    ("step backward", r"step backward.*rnn_step_backward"),
    ("sequence forward", r"sequence forward.*rnn_forward"),
    ("BPTT", r"backpropagation through time.*rnn_backward"),
    ("gradients add up over time, dh0", r"add up over time.*dh_0"),
    ("word embeddings", r"^#+ \d+\. word embeddings"),
    ("embedding forward", r"embedding forward.*word_embedding_forward"),
    ("embedding backward", r"embedding backward.*word_embedding_backward"),
    ("what dW[x] += dout loses", r"dw\[x\] \+= dout"),
    ("embeddings at work", r"embeddings? at work"),
    ("a hand-built RNN", r"hand-built rnn"),
    ("character-level language model", r"character-level language model.*tang quatrains"),
    ("vanishing and exploding gradients", r"vanishing and exploding gradients"),
    ("gradient norm per time step", r"gradient reaching each time step"),
    ("clipping by value vs by norm", r"clipping.*by value.*by norm"),
    ("truncated BPTT", r"truncated bptt"),
    ("the classifier", r"the classifier.*rnnclassifier"),
    ("loss at initialisation", r"loss at initialisation"),
    ("gradient check", r"gradient check"),
    ("overfit a small batch", r"overfit a small batch"),
    ("CIFAR-10 row by row", r"cifar-10, read row by row"),
    ("training on CIFAR-10", r"training on cifar-10"),
    ("test predictions", r"test predictions"),
    ("confusion matrix and test accuracy", r"confusion matrix.*test accuracy"),
    ("RNN vs fully connected", r"rnn against a fully connected"),
    ("written answers", r"written answers"),
    ("optional extension", r"optional extension.*not graded"),
    ("self-check", r"self-check"),
]
CJK = re.compile(r"[\u4e00-\u9fff]")
# Released cells that must run with the untouched starter: they use none of the student's
# code (setup, pure demonstrations, data loading, the self-check). Every other code cell
# needs the student's code and must stop with a NotImplementedError naming what to do.
PROVIDED_CELLS = {"reference_path", "char_lm_data", "setup", "why_rnn_parameters", "embedding_task_setup", "vanishing_plot",
                  "clipping_picture", "cifar10_load", "cifar10_rows_picture", "selfcheck"}
TODO_NAMES = LAYER_FUNCTIONS + ["RNNClassifier.loss", "RNNClassifier.train"]


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _grade_id(cell) -> str:
    return _nbgrader(cell).get("grade_id") or f"cell {cell.get('id')}"


def _test_cells(nb) -> list:
    """Autograded test cells: graded code cells that are not solutions."""
    return [c for c in nb.cells if c.cell_type == "code"
            and _nbgrader(c).get("grade") and not _nbgrader(c).get("solution")]


@pytest.fixture(scope="module")
def source_nb():
    return nbformat.read(NOTEBOOK, as_version=4)


# ----------------------------------------------------------------- structure (no kernel)

def test_notebook_is_valid_nbformat_and_nbgrader_metadata(source_nb):
    nbformat.validate(source_nb)
    MetadataValidator().validate_nb(source_nb)  # nbgrader 0.9's own schema-3 check


def test_grade_ids_are_unique(source_nb):
    ids = [_nbgrader(c)["grade_id"] for c in source_nb.cells if "grade_id" in _nbgrader(c)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_source_is_committed_without_outputs(source_nb):
    dirty = [_grade_id(c) for c in source_nb.cells
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"cells with outputs in the committed source: {dirty}"


def test_test_cells_are_locked_and_have_points(source_nb):
    cells = _test_cells(source_nb)
    assert cells
    for cell in cells:
        meta = _nbgrader(cell)
        assert meta["locked"], f"{meta['grade_id']} is not locked"
        assert meta.get("points", 0) > 0, f"{meta['grade_id']} has no points"


@pytest.mark.parametrize("target", sorted(GRADED_TARGETS))
def test_every_target_has_graded_cells_that_call_the_grader(source_nb, target):
    # A visible call, not a hidden-test region: nbgrader reports every cell with hidden
    # tests as changed when it autogrades it (jupyter/nbgrader#1961).
    cells = {_grade_id(c): c for c in _test_cells(source_nb)}
    for grade_id in GRADED_TARGETS[target]:
        assert grade_id in cells, f"{target}: no autograded cell {grade_id!r}"
        call = GRADING_CALL.search(cells[grade_id].source.strip())
        assert call and call["target"].split(".")[0] == target, f"{grade_id}: no grading call"
        assert float(call["points"]) == _nbgrader(cells[grade_id])["points"], grade_id
        assert "HIDDEN TESTS" not in cells[grade_id].source, grade_id


def test_only_the_grading_cells_are_autograded(source_nb):
    assert ({_grade_id(c) for c in _test_cells(source_nb)}
            == {g for ids in GRADED_TARGETS.values() for g in ids})


def _is_heading(line: str) -> bool:
    return line.startswith("#") and not any(m in line for m in ("BEGIN ", "END "))


def _headings(nb) -> list[str]:
    return [line.strip() for c in nb.cells if c.cell_type == "markdown"
            for line in c.source.splitlines() if _is_heading(line)]


def test_every_seed_topic_has_its_section_in_order(source_nb):
    headings = [h.lower() for h in _headings(source_nb)]
    found = []
    for topic, pattern in TOPICS:
        where = [i for i, h in enumerate(headings) if re.search(pattern, h)]
        assert where, f"no section heading for {topic!r} (pattern {pattern!r})"
        found.append((where[0], topic))
    assert found == sorted(found), f"sections out of the chapter's order: {sorted(found)}"


def test_every_heading_has_a_chinese_line(source_nb):
    for cell in source_nb.cells:
        lines = [line for line in cell.source.splitlines() if line.strip()]
        for i, line in enumerate(lines):
            if cell.cell_type == "markdown" and _is_heading(line) and i + 1 < len(lines):
                assert CJK.search(line) or CJK.search(lines[i + 1]), (
                    f"heading {line!r} has no Chinese line after it")


def test_has_a_code_solution_cell(source_nb):
    solutions = [c for c in source_nb.cells if c.cell_type == "code"
                 and _nbgrader(c).get("solution") and not _nbgrader(c).get("grade")]
    assert any("### BEGIN SOLUTION" in c.source for c in solutions)


def test_has_a_manually_graded_written_answer(source_nb):
    written = [c for c in source_nb.cells if c.cell_type == "markdown"
               and _nbgrader(c).get("solution") and _nbgrader(c).get("grade")]
    assert written, "no markdown cell that is both solution and grade"
    assert all(_nbgrader(c).get("points", 0) > 0 for c in written)
    assert any("### BEGIN SOLUTION" in c.source for c in written)


@pytest.mark.parametrize("begin, end", MARKERS)
def test_markers_are_paired_and_only_in_their_cells(source_nb, begin, end):
    for cell in source_nb.cells:
        # nbgrader matches "BEGIN SOLUTION" etc. anywhere in a line: so do we.
        lines = [line.strip() for line in cell.source.splitlines()
                 if begin.lstrip("# ") in line or end.lstrip("# ") in line]
        assert lines in ([], [begin, end]), f"{_grade_id(cell)}: markers {lines}"
        if lines and "SOLUTION" in begin:
            assert _nbgrader(cell).get("solution"), f"{_grade_id(cell)}: not a solution cell"
        if lines and "HIDDEN" in begin:
            assert cell in _test_cells(source_nb), f"{_grade_id(cell)}: not a test cell"


# ----------------------------------------------------------------- execution

@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The source notebook run where it stands (as an instructor opens it in Jupyter or
    `nbgrader validate` runs it): its first cell finds the reference in solutions/rnn,
    nothing is copied beside it. (notebook, seconds)"""
    assert not (NOTEBOOK.parent / "rnn_layers.py").exists()  # only the reference can serve
    return _execute(NOTEBOOK, _cifar_dir(tmp_path_factory))


@pytest.fixture(scope="module")
def executed_starter(tmp_path_factory):
    """The released notebook after a run in a copy of the released folder: (nb, seconds)."""
    work = tmp_path_factory.mktemp("release") / "rnn"
    shutil.copytree(RELEASE, work)
    return _execute(work / RELEASED_NOTEBOOK.name, _cifar_dir(tmp_path_factory))


def _cifar_dir(tmp_path_factory):
    try:
        return require_cifar_subset()
    except pytest.skip.Exception:  # the optional real subset is absent: fake files
        return write_fake_cifar(tmp_path_factory.mktemp("cifar"),
                                n_per_batch=FAKE_IMAGES_PER_BATCH)


def _execute(path, cifar_dir):
    """Run every cell (going on after errors) with its folder as the working directory."""
    # One BLAS thread: on a shared machine multi-threaded OpenBLAS spins and can make the
    # run several times slower; with one thread it takes about 15 s on the real subset.
    env = dict(os.environ, CIFAR10_DIR=str(cifar_dir), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MPLBACKEND="module://matplotlib_inline.backend_inline",
               RNN_GRADER_BRIDGE=str(ROOT / "autograder" / "nbgrader_entry.py"))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=EXECUTION_TIMEOUT, kernel_name="python3",
                            allow_errors=True, resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute(env=env)
    return nb, time.perf_counter() - start


def _errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


def test_runs_without_errors(executed):
    nb, _ = executed
    errors = [f"{_grade_id(c)}: {o.ename}: {o.evalue}"
              for c in nb.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, "\n".join(errors)


def test_runs_within_the_time_limit(executed):
    _, seconds = executed
    assert seconds < EXECUTION_TIMEOUT, f"notebook took {seconds:.0f} s"


def test_every_autograded_test_cell_ran(executed):
    nb, _ = executed
    cells = _test_cells(nb)
    assert {_grade_id(c) for c in cells} >= {g for ids in GRADED_TARGETS.values() for g in ids}
    for cell in cells:
        assert cell.execution_count is not None, f"{_grade_id(cell)} did not run"
        assert cell.outputs, f"{_grade_id(cell)} printed nothing (no relative errors)"


def test_every_figure_cell_shows_an_image(executed):
    nb, _ = executed
    figure_cells = [c for c in nb.cells if c.cell_type == "code" and FIGURE_CALL.search(c.source)]
    assert figure_cells, "the notebook draws no figure"
    for cell in figure_cells:
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), (
            f"{_grade_id(cell)} draws a figure but shows no image")


def test_self_check_cell_runs_the_kit_and_passes(executed):
    nb, _ = executed
    cell = next(c for c in nb.cells if c.get("id") == "selfcheck")
    assert cell is nb.cells[-1], "the self-check is not the last cell"
    text = _text(cell)
    assert "Self-check on the public cases" in text, text
    assert "Still losing points" not in text, text


# ----------------------------------------------------------------- the released starter

def test_starter_fails_only_where_the_students_code_is_needed(executed_starter):
    nb, _ = executed_starter
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    ids = {c.get("id") for c in code_cells}
    assert PROVIDED_CELLS <= ids, f"cells not in the release: {PROVIDED_CELLS - ids}"
    for cell in code_cells:
        errors = _errors(cell)
        if cell.get("id") in PROVIDED_CELLS or cell in _test_cells(nb):  # graded: autograde only
            assert not errors, (f"{_grade_id(cell)} uses no student code but failed: "
                                f"{[(e.ename, e.evalue) for e in errors]}")
        else:
            assert errors, f"{_grade_id(cell)} needs the student's code but ran without error"


def test_starter_errors_are_not_implemented_naming_what_to_do(executed_starter):
    nb, _ = executed_starter
    solution_cells = [_grade_id(c) for c in nb.cells
                      if c.cell_type == "code" and _nbgrader(c).get("solution")]
    names = TODO_NAMES + solution_cells
    for cell in nb.cells:
        for error in _errors(cell):
            assert error.ename == "NotImplementedError", (
                f"{_grade_id(cell)}: {error.ename}: {error.evalue}")
            assert any(error.evalue.startswith(f"{name}:") for name in names), (
                f"{_grade_id(cell)}: NotImplementedError {error.evalue!r} names none of {names}")


def test_starter_self_check_reports_what_is_missing(executed_starter):
    nb, _ = executed_starter
    text = _text(next(c for c in nb.cells if c.get("id") == "selfcheck"))
    assert "Self-check on the public cases:" in text, text
    assert "Still losing points: " in text and "rnn_step_forward" in text, text
