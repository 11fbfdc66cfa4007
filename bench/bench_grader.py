"""Speed and memory of grading one submission with the whole hidden suite.
批改一份作业（全部隐藏测试）所需的时间和内存。

    .venv/bin/python bench/bench_grader.py          (part of `make bench`)
    .venv/bin/python bench/bench_grader.py --against a8469a2 --no-nbgrader
    BENCH_REPEATS=15 .venv/bin/python bench/bench_grader.py   (more runs each)

Grades the reference solutions REPEATS times in fresh subprocesses (as a course would),
with two copies of the grader taken in turn: one with its bytecode compiled (as pip and
Gradescope's setup.sh install it) and one without (a fresh clone on a machine that sets
PYTHONDONTWRITEBYTECODE); prints both medians and the peak memory of the grader and of
the student process, next to the goals (median <= 0.5 s, peak < 500 MB). --against REV
times that revision's grader in the same turns (the ratio holds on a noisy machine); by
default BASELINE, the grader before its callees were served and train was judged from
outside (issues 19 and 20 were measured against it); --against "" skips it, and so does
a clone without that revision.
When the released notebook exists, it also times the real `nbgrader autograde` of that
notebook filled with the same solutions, in the same run, and prints the ratio.
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
BASELINE = "670a459"
REPEATS = int(os.environ.get("BENCH_REPEATS", "7"))

# Run in a fresh interpreter: grade the solutions once, report wall time and peak RSS.
_ONE_GRADE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
start = time.perf_counter()
from autograder.config import DEFAULT
try:
    from autograder.judging.grade import grade
except ModuleNotFoundError:  # --against a revision before the folders by layer
    from autograder.grade import grade
result = grade({submission!r}, DEFAULT)
print(json.dumps({{"wall": time.perf_counter() - start, "score": result.score,
    "grader_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "student_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}}))
"""


def grade_once(root: Path) -> dict:
    """Grade root/solutions/rnn with the grader installed in root (fresh interpreter; no
    bytecode is written, so an install stays as it was made)."""
    code = _ONE_GRADE.format(root=str(root), submission=str(root / "solutions" / "rnn"))
    # one BLAS thread, as `python -m autograder` sets it (autograder/__main__.py)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=root, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _install(root: Path, compiled: bool, revision: str = "") -> Path:
    """A copy of the grader and the reference (this checkout's, or those of a git
    revision), as a fresh clone has them (no bytecode) or as an installation does
    (bytecode compiled once, as pip and setup.sh do)."""
    if revision:
        root.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", revision, "autograder", "solutions"],
                                 cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    else:
        for name in ("autograder", "solutions"):
            shutil.copytree(ROOT / name, root / name,
                            ignore=shutil.ignore_patterns("__pycache__", "datasets"))
    if compiled:
        subprocess.run([sys.executable, "-m", "compileall", "-q", "autograder", "solutions"],
                       cwd=root, check=True, capture_output=True)
    return root


def _has_revision(revision: str) -> bool:
    return subprocess.run(["git", "cat-file", "-e", f"{revision}^{{commit}}"], cwd=ROOT,
                          capture_output=True).returncode == 0


def _isolation() -> str:
    sys.path.insert(0, str(ROOT))
    from autograder.sandbox import isolation
    from autograder.config import DEFAULT
    return isolation.choose(DEFAULT)[0]


def bench_grading(against: str = "") -> float:
    """Both installs graded in turn, REPEATS times each (and, with `against`, that git
    revision's grader, compiled, in the same turns: a ratio a noisy machine cannot
    fake); the median of the slower of the two."""
    with tempfile.TemporaryDirectory(prefix="bench-grader-") as tmp:
        installs = {"bytecode compiled (installed: pip, setup.sh)":
                    _install(Path(tmp) / "compiled", True),
                    "no bytecode (a fresh clone, PYTHONDONTWRITEBYTECODE)":
                    _install(Path(tmp) / "source", False)}
        if against:
            installs[f"{against}, bytecode compiled"] = _install(Path(tmp) / "against", True,
                                                                 against)
        runs = {name: [] for name in installs}
        for _ in range(REPEATS):
            for name, root in installs.items():
                runs[name].append(grade_once(root))
    print(f"grading the reference, whole hidden suite ({REPEATS} runs each, fresh interpreter "
          f"each, in turn; isolation {_isolation()}; goal: median <= 0.5 s)")
    medians = []
    for name, results in runs.items():
        walls = [r["wall"] for r in results]
        medians.append(statistics.median(walls))
        print(f"  {name:54s} median {medians[-1]:5.2f} s  (best {min(walls):.2f}, "
              f"worst {max(walls):.2f})  score {results[0]['score']}")
    every = [r for results in runs.values() for r in results]
    grader_mb = max(r["grader_kb"] for r in every) / 1024
    student_mb = max(r["student_kb"] for r in every) / 1024
    print(f"  ratio no bytecode / compiled = {medians[1] / medians[0]:.2f}")
    if against:
        print(f"  ratio compiled / {against} compiled = {medians[0] / medians[2]:.2f}")
    print(f"  peak memory {grader_mb:.0f} MB grader, {student_mb:.0f} MB student process "
          f"(goal < 500 MB)")
    return max(medians[:2])


def bench_nbgrader(grader_median: float) -> None:
    """The real `nbgrader autograde` of the notebook filled with the solutions (the hidden
    cells call our grader too, so this is notebook execution + one grading)."""
    source = ROOT / "source_notebooks" / "rnn"
    cifar = ROOT.parent / "shared" / "data" / "cifar-10-subset" / "cifar-10-batches-py"
    if not (source / "RNN.ipynb").exists() or not cifar.exists():
        print("nbgrader autograde: skipped (needs the source notebook and the CIFAR subset)")
        return
    env = dict(os.environ, CIFAR10_DIR=str(cifar), OPENBLAS_NUM_THREADS="1",
               RNN_GRADER_BRIDGE=str(ROOT / "autograder" / "integrations" / "nbgrader_entry.py"),
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
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default=BASELINE, metavar="REV",
                        help="also time this git revision's grader, in the same turns "
                             f"(default {BASELINE}; \"\" for none)")
    parser.add_argument("--no-nbgrader", action="store_true",
                        help="skip the nbgrader autograde timing")
    args = parser.parse_args()
    if args.against and not _has_revision(args.against):
        print(f"(revision {args.against} is not in this clone: no side-by-side timing)")
        args.against = ""
    median = bench_grading(args.against)
    if args.no_nbgrader:
        return
    bench_nbgrader(median)


if __name__ == "__main__":
    main()
