"""Wall time of the whole notebook, run top to bottom as a student runs it at the end.
整本 notebook 从头到尾运行一遍所需的时间。

    .venv/bin/python bench/bench_notebook.py          (part of `make bench`)

Runs the source notebook (the reference's answers in place) with the course's CIFAR-10
subset, one BLAS thread per process as the kit sets it, and prints the wall time next to
the goal (<= 5 minutes on 2 cores), then the five slowest cells with their section, so
that a section that grew shows at once. Without the subset beside the checkout
(../shared/data/cifar-10-subset) it says so and stops: the CIFAR sections are the long
ones, and fake data would time nothing real.
It is a benchmark, not a test: nothing fails on a slow machine.
"""
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "source_notebooks" / "rnn" / "RNN.ipynb"
CIFAR = ROOT.parent / "shared" / "data" / "cifar-10-subset" / "cifar-10-batches-py"
GOAL_SECONDS = 300.0


def _seconds(cell) -> float:
    """A code cell's own time, from the timestamps nbclient records in its metadata."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = lambda stamp: datetime.fromisoformat(stamp.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def _cell_name(cell) -> str:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return grade_id or cell.get("id", "?")


def main() -> None:
    cifar = Path(os.environ.get("CIFAR10_DIR", CIFAR))
    if not (cifar / "data_batch_1").is_file():
        print(f"whole notebook: skipped (needs the CIFAR-10 subset at {cifar})")
        return
    env = dict(os.environ, CIFAR10_DIR=str(cifar), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MPLBACKEND="module://matplotlib_inline.backend_inline")
    env.pop("NBGRADER_EXECUTION", None)
    env.pop("RNN_SHORT_TRAINING", None)  # the full run, as a student has it
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=1800, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    start = time.perf_counter()
    client.execute(env=env)
    wall = time.perf_counter() - start
    errors = [_cell_name(c) for c in nb.cells if c.cell_type == "code"
              and any(o.output_type == "error" for o in c.get("outputs", []))]
    status = "ok" if not errors else f"ERRORS in {', '.join(errors)}"
    print(f"whole notebook top to bottom (reference answers, CIFAR-10 subset, "
          f"{os.cpu_count()} CPUs): {wall:.1f} s, goal <= {GOAL_SECONDS:.0f} s "
          f"(ratio {wall / GOAL_SECONDS:.2f}; {status})")
    slowest = sorted((c for c in nb.cells if c.cell_type == "code"), key=_seconds,
                     reverse=True)[:5]
    for cell in slowest:
        print(f"  {_seconds(cell):6.1f} s  {_cell_name(cell)}")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
