"""Batch grading speed: 100 submissions with --jobs 1 and --jobs 2, side by side.
批量评分的速度：100 份作业，--jobs 1 与 --jobs 2 并排比较。

    .venv/bin/python bench/bench_batch.py [--count 100]      (part of `make bench`)

Generates COUNT submissions into a temporary folder (copies of the reference and of a
few buggy variants, each with a distinct comment so that every one is graded on its own
hidden cases), grades them with `python -m autograder grade-all` into a fresh results
folder with --jobs 1, then --jobs 2, and prints both wall times and the speed-up next to
the goals (jobs 2 <= 60 s, speed-up >= 1.8x). Wall time covers the whole command:
interpreter start, worker start, grading, gradebook and report. Runs alternate (1, 2,
1, 2, ...) and the fastest of each is reported; next to each, the share of a CPU that
other processes (or the hypervisor) took meanwhile, since a busy machine lowers the
speed-up without saying so.
It is a benchmark, not a test: nothing fails on a slow machine.
"""
import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions" / "rnn"

# (file, reference snippet, buggy replacement): small, realistic mistakes
BUGS = (
    ("rnn_layers.py", "np.add.at(dW, x, dout)", "dW[x] += dout"),
    ("rnn_layers.py", "dprev_h = da @ Wh.T  # (N, H)", "dprev_h = da @ Wh  # (N, H)"),
    ("rnn_layers.py", "next_h = np.tanh(x @ Wx + prev_h @ Wh + b)",
     "next_h = np.tanh(x @ Wx + prev_h @ Wh)"),
)


def make_submissions(folder: Path, count: int) -> None:
    for i in range(count):
        target = folder / f"student{i:03d}"
        target.mkdir(parents=True)
        for path in SOLUTIONS.glob("*.py"):
            shutil.copy(path, target / path.name)
        variant = i % (len(BUGS) + 2)  # 2 in 5 correct, the rest one bug each
        if variant < len(BUGS):
            name, old, new = BUGS[variant]
            text = (target / name).read_text()
            assert text.count(old) == 1, old
            (target / name).write_text(text.replace(old, new))
        with open(target / "rnn_layers.py", "a") as f:
            f.write(f"\n# submission {i}\n")


def busy_cpu_seconds() -> float:
    """CPU time used on the machine so far, stolen time included (from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def our_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def grade_all(submissions: Path, out: Path, jobs: int) -> tuple[float, list[float], float]:
    """(wall time, totals, CPU seconds that other processes took during the run)."""
    busy, ours = busy_cpu_seconds(), our_cpu_seconds()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder", "grade-all", str(submissions),
                    "--output", str(out), "--jobs", str(jobs)], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    others = (busy_cpu_seconds() - busy) - (our_cpu_seconds() - ours)
    with open(out / "grades.csv", newline="") as f:
        totals = [float(row["total"]) for row in csv.DictReader(f)]
    return wall, totals, max(others, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of each, alternated; the fastest is reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        submissions = Path(tmp) / "submissions"
        make_submissions(submissions, args.count)
        runs = {1: [], 2: []}
        for repeat in range(args.repeats):  # alternated, so that a busy spell hits both
            for jobs in (1, 2):
                out = Path(tmp) / f"jobs{jobs}-{repeat}"
                runs[jobs].append(grade_all(submissions, out, jobs))
        (one, totals_one, others_one), (two, totals_two, others_two) = (
            min(runs[1]), min(runs[2]))  # the fastest run of each, as timeit does
    same = "same grades" if totals_one == totals_two else "GRADES DIFFER"
    print(f"grade-all, {args.count} submissions (reference + {len(BUGS)} buggy variants), "
          f"{os.cpu_count()} CPUs, fastest of {args.repeats} runs each")
    print(f"  --jobs 1   {one:6.1f} s   ({args.count / one:.1f} submissions/s)   "
          f"others took {others_one / one:.0%} of a CPU meanwhile")
    print(f"  --jobs 2   {two:6.1f} s   ({args.count / two:.1f} submissions/s; goal <= 60 s)   "
          f"others took {others_two / two:.0%} of a CPU meanwhile")
    print(f"  speed-up   {one / two:6.2f}x  (goal >= 1.8x); {same}, "
          f"mean score {sum(totals_two) / max(len(totals_two), 1):.1f}")
    if max(others_one / one, others_two / two) > 0.1:
        print("  (the machine was not idle: the speed-up measures the CPUs left to us)")


if __name__ == "__main__":
    main()
