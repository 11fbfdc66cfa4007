"""Speed and memory of grading one submission with the whole hidden suite.
批改一份作业（全部隐藏测试）所需的时间和内存。

    .venv/bin/python bench/bench_grader.py          (part of `make bench`)

Grades the reference solutions REPEATS times in fresh subprocesses (as a course would),
prints the median wall time and the peak memory of the grader and of the student
process, next to the goals (median <= 1 s, peak < 500 MB). When the released notebook
exists, it also times the real `nbgrader autograde` of that notebook filled with the
same solutions, in the same run, and prints the ratio.
It is a benchmark, not a test: nothing fails on a slow machine.
"""
import json
import resource
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
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_grading() -> float:
    runs = [grade_once(ROOT / "solutions" / "rnn") for _ in range(REPEATS)]
    walls = [r["wall"] for r in runs]
    median = statistics.median(walls)
    grader_mb = max(r["grader_kb"] for r in runs) / 1024
    student_mb = max(r["student_kb"] for r in runs) / 1024
    print(f"grading the reference, whole hidden suite ({REPEATS} runs, fresh interpreter each)")
    print(f"  median wall     {median:6.2f} s   (best {min(walls):.2f}, worst {max(walls):.2f}; "
          f"goal <= 1 s)   score {runs[0]['score']}")
    print(f"  peak memory     {grader_mb:6.0f} MB grader, {student_mb:.0f} MB student process "
          f"(goal < 500 MB)")
    return median


def bench_nbgrader(grader_median: float) -> None:
    released = ROOT / "assignment" / "rnn" / "RNN.ipynb"
    source = ROOT / "source_notebooks" / "rnn" / "RNN.ipynb"
    if not released.exists() or not source.exists():
        print("nbgrader autograde: skipped (no released notebook; run make release)")
        return
    with tempfile.TemporaryDirectory(prefix="bench-nbgrader-") as tmp:
        course = Path(tmp)
        (course / "source" / "rnn").mkdir(parents=True)
        shutil.copy(source, course / "source" / "rnn" / "RNN.ipynb")
        submitted = course / "submitted" / "student" / "rnn"
        submitted.mkdir(parents=True)
        shutil.copy(source, submitted / "RNN.ipynb")  # the notebook filled with solutions
        for module in (ROOT / "solutions" / "rnn").glob("*.py"):
            shutil.copy(module, submitted / module.name)
        nbgrader = [sys.executable, "-m", "nbgrader"]
        common = [f"--CourseDirectory.root={course}", "--CourseDirectory.course_id=bench",
                  f"--CourseDirectory.db_url=sqlite:///{course}/gradebook.db"]
        subprocess.run(nbgrader + ["db", "assignment", "add", "rnn"] + common,
                       check=True, capture_output=True)
        subprocess.run(nbgrader + ["db", "student", "add", "student"] + common,
                       check=True, capture_output=True)
        subprocess.run(nbgrader + ["generate_assignment", "rnn", "--force"] + common,
                       check=True, capture_output=True)
        start = time.perf_counter()
        done = subprocess.run(nbgrader + ["autograde", "rnn", "--force"] + common,
                              capture_output=True, text=True)
        wall = time.perf_counter() - start
    status = "ok" if done.returncode == 0 else f"FAILED: {done.stderr[-300:]}"
    print(f"nbgrader autograde of the released notebook with the solutions: {wall:.2f} s "
          f"({status}); ratio nbgrader / our grader = {wall / grader_median:.1f}x")


def main() -> None:
    median = bench_grading()
    bench_nbgrader(median)


if __name__ == "__main__":
    main()
