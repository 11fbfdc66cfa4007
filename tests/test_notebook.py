"""The source notebook: valid nbgrader metadata, and a clean run with the reference.

The run executes `source_notebooks/rnn/RNN.ipynb` top to bottom in a real Jupyter kernel,
in a temporary folder that holds the notebook next to copies of the reference modules
(as a student's folder would), on the real CIFAR-10 subset when present and otherwise on
small fake CIFAR-format files.
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
from conftest import ROOT, SOLUTIONS, require_cifar_subset

NOTEBOOK = ROOT / "source_notebooks" / "rnn" / "RNN.ipynb"
EXECUTION_TIMEOUT = 120  # seconds for the whole notebook
# The notebook loads 4000 training + 500 validation images: 5 fake batches of 900 cover it.
FAKE_IMAGES_PER_BATCH = 900

LAYER_FUNCTIONS = ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
                   "word_embedding_forward", "word_embedding_backward"]
# Every graded target and the grade_ids of its autograded test cells.
GRADED_TARGETS = {
    **{name: [f"{name}_check"] for name in LAYER_FUNCTIONS},
    "RNNClassifier": ["rnn_classifier_loss_check", "rnn_classifier_gradient_check",
                      "rnn_classifier_train_check"],
}
MARKERS = [("### BEGIN SOLUTION", "### END SOLUTION"),
           ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")]
FIGURE_CALL = re.compile(r"\bplt\.(plot|subplots|figure|imshow|bar|hist)\(")


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
def test_every_target_has_a_graded_cell_with_hidden_tests(source_nb, target):
    cells = {_grade_id(c): c for c in _test_cells(source_nb)}
    for grade_id in GRADED_TARGETS[target]:
        assert grade_id in cells, f"{target}: no autograded test cell {grade_id!r}"
        assert "### BEGIN HIDDEN TESTS" in cells[grade_id].source, (
            f"{target}: {grade_id} has no hidden-test region")


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
    """The notebook after a run with the reference: (notebook, seconds)."""
    work = tmp_path_factory.mktemp("student_folder")
    for module in SOLUTIONS.glob("*.py"):
        shutil.copy(module, work)
    shutil.copy(NOTEBOOK, work)
    try:
        cifar_dir = require_cifar_subset()
    except pytest.skip.Exception:  # the optional real subset is absent: fake files
        cifar_dir = write_fake_cifar(tmp_path_factory.mktemp("cifar"),
                                     n_per_batch=FAKE_IMAGES_PER_BATCH)
    env = dict(os.environ, CIFAR10_DIR=str(cifar_dir),
               MPLBACKEND="module://matplotlib_inline.backend_inline")
    nb = nbformat.read(work / NOTEBOOK.name, as_version=4)
    client = NotebookClient(nb, timeout=EXECUTION_TIMEOUT, kernel_name="python3",
                            allow_errors=True, resources={"metadata": {"path": str(work)}})
    start = time.perf_counter()
    client.execute(env=env)
    return nb, time.perf_counter() - start


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
