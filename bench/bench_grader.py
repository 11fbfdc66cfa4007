"""Speed and memory of grading one submission with the whole hidden suite.
批改一份作业（全部隐藏测试）所需的时间和内存。

    .venv/bin/python bench/bench_grader.py          (part of `make bench`)

Grades the reference solutions REPEATS times in fresh subprocesses (as a course would),
prints the median wall time and the peak memory of the grader and of the student
process, next to the goals (median <= 0.5 s, peak < 500 MB). When the released notebook
exists, it also times the real `nbgrader autograde` of that notebook filled with the
same solutions, in the same run, and prints the ratio.
It is a benchmark, not a test: nothing fails on a slow machine.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 7

# Run in a fresh interpreter: grade the solutions once, report wall time and peak RSS.
_ONE_GRADE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
start = time.perf_counter()
from autograder.config import DEFAULT
from autograder.grade import grade
result = grade({submission!r}, DEFAULT)
print(json.dumps({{"wall": time.perf_counter() - start, "score": result.score,
    "grader_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "student_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}}))
"""


def grade_once(submission: Path) -> dict:
    code = _ONE_GRADE.format(root=str(ROOT), submission=str(submission))
    # one BLAS thread, as `python -m autograder` sets it (autograder/__main__.py)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_grading() -> float:
    runs = [grade_once(ROOT / "solutions" / "rnn") for _ in range(REPEATS)]
    walls = [r["wall"] for r in runs]
    median = statistics.median(walls)
    grader_mb = max(r["grader_kb"] for r in runs) / 1024
    student_mb = max(r["student_kb"] for r in runs) / 1024
    print(f"grading the reference, whole hidden suite ({REPEATS} runs, fresh interpreter each)")
    print(f"  median wall     {median:6.2f} s   (best {min(walls):.2f}, worst {max(walls):.2f}; "
          f"goal <= 0.5 s)   score {runs[0]['score']}")
    print(f"  peak memory     {grader_mb:6.0f} MB grader, {student_mb:.0f} MB student process "
          f"(goal < 500 MB)")
    return median


def bench_nbgrader(grader_median: float) -> None:
    """The real `nbgrader autograde` of the notebook filled with the solutions (the hidden
    cells call our grader too, so this is notebook execution + one grading)."""
    source = ROOT / "source_notebooks" / "rnn"
    cifar = ROOT.parent / "shared" / "data" / "cifar-10-subset" / "cifar-10-batches-py"
    if not (source / "RNN.ipynb").exists() or not cifar.exists():
        print("nbgrader autograde: skipped (needs the source notebook and the CIFAR subset)")
        return
    env = dict(os.environ, CIFAR10_DIR=str(cifar), OPENBLAS_NUM_THREADS="1",
               RNN_GRADER_BRIDGE=str(ROOT / "autograder" / "nbgrader_entry.py"),
               PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    with tempfile.TemporaryDirectory(prefix="bench-nbgrader-") as tmp:
        course = Path(tmp)
        shutil.copytree(source, course / "source" / "rnn")
        submitted = course / "submitted" / "student" / "rnn"
        shutil.copytree(ROOT / "assignment" / "rnn", submitted,
                        ignore=shutil.ignore_patterns("datasets", "__pycache__"))
        shutil.copy(source / "RNN.ipynb", submitted / "RNN.ipynb")  # filled with solutions
        for module in (ROOT / "solutions" / "rnn").glob("rnn_*.py"):
            shutil.copy(module, submitted / module.name)

        def nbgrader(*args):
            return subprocess.run(
                [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}",
                 "--CourseDirectory.course_id=bench",
                 f"--CourseDirectory.db_url=sqlite:///{course}/gradebook.db"],
                cwd=course, env=env, capture_output=True, text=True)

        for args in (("db", "assignment", "add", "rnn"), ("db", "student", "add", "student"),
                     ("generate_assignment", "rnn", "--force")):
            nbgrader(*args).check_returncode()
        start = time.perf_counter()
        done = nbgrader("autograde", "rnn", "--force")
        wall = time.perf_counter() - start
    status = "ok" if done.returncode == 0 else f"FAILED: {done.stderr[-300:]}"
    print(f"nbgrader autograde of the notebook filled with the solutions: {wall:.2f} s "
          f"({status})")
    print(f"  ratio nbgrader autograde / our grader = {wall / grader_median:.0f}x")


def main() -> None:
    median = bench_grading()
    bench_nbgrader(median)


if __name__ == "__main__":
    main()
