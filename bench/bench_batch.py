"""Batch grading speed: 100 submissions with --jobs 1, --jobs 2 and on a two-worker Dask
LocalCluster, side by side.
批量评分的速度：100 份作业，--jobs 1、--jobs 2 与两个 worker 的 Dask 集群并排比较。

    .venv/bin/python bench/bench_batch.py [--count 100] [--no-jobs1]   (part of `make bench`)

Generates COUNT submissions into a temporary folder (copies of the reference and of a
few buggy variants, each with a distinct comment so that every one is graded on its own
hidden cases), grades them with `python -m autograder grade-all` into a fresh results
folder with --jobs 1, then --jobs 2, then --scheduler on a LocalCluster of two worker
processes (one thread each) started beforehand, as a course's cluster would be, and
prints the wall times next to the goals (jobs 2 <= 60 s, speed-up >= 1.8x, the cluster
at most 15 % slower than --jobs 2). Wall time covers the whole command: interpreter
start, worker start (or connecting to the scheduler), grading, gradebook and report.
Runs alternate (1, 2, dask, 1, 2, dask, ...) and the fastest of each is reported; next
to each, the share of a CPU that other processes (or the hypervisor) took meanwhile,
since a busy machine lowers the speed-up without saying so.
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


def grade_all(submissions: Path, out: Path, how: list[str],
              cluster_pids=()) -> tuple[float, list[float], float]:
    """(wall time, totals, CPU seconds that other processes took during the run)."""
    busy, ours = busy_cpu_seconds(), our_cpu_seconds() + cluster_cpu_seconds(cluster_pids)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder", "grade-all", str(submissions),
                    "--output", str(out), *how], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    ours = our_cpu_seconds() + cluster_cpu_seconds(cluster_pids) - ours
    others = (busy_cpu_seconds() - busy) - ours
    with open(out / "grades.csv", newline="") as f:
        totals = [float(row["total"]) for row in csv.DictReader(f)]
    return wall, totals, max(others, 0.0)


def cluster_cpu_seconds(pids) -> float:
    """CPU time of the cluster's worker processes and of their finished children (the
    student processes), which are not children of this process."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue
    return total


def start_cluster():
    """A LocalCluster of two single-threaded worker processes on loopback, and a client."""
    from distributed import Client, LocalCluster

    # The workers import the grader, as `dask worker` does on a course's machines.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                             os.environ.get("PYTHONPATH")]))
    sys.path.insert(0, str(ROOT))
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", scheduler_port=0, dashboard_address=None,
                           silence_logs=50)
    return cluster, Client(cluster)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of each, alternated; the fastest is reported")
    parser.add_argument("--no-jobs1", action="store_true",
                        help="skip --jobs 1 (compare --jobs 2 and the cluster only)")
    args = parser.parse_args()
    cluster, client = start_cluster()
    pids = list(client.run(os.getpid).values())
    modes = {"--jobs 1": ["--jobs", "1"], "--jobs 2": ["--jobs", "2"],
             "dask, 2 workers": ["--scheduler", cluster.scheduler_address]}
    if args.no_jobs1:
        del modes["--jobs 1"]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
            submissions = Path(tmp) / "submissions"
            make_submissions(submissions, args.count)
            runs = {mode: [] for mode in modes}
            for repeat in range(args.repeats):  # alternated: a busy spell hits every mode
                for k, (mode, how) in enumerate(modes.items()):
                    out = Path(tmp) / f"run{k}-{repeat}"
                    runs[mode].append(grade_all(submissions, out, how,
                                                pids if "--scheduler" in how else ()))
    finally:
        client.close()
        cluster.close()
    best = {mode: min(times) for mode, times in runs.items()}  # the fastest, as timeit does
    report(args, best)


def report(args, best: dict) -> None:
    goals = {"--jobs 2": "goal <= 60 s", "dask, 2 workers": "goal <= 1.15x --jobs 2"}
    print(f"grade-all, {args.count} submissions (reference + {len(BUGS)} buggy variants), "
          f"{os.cpu_count()} CPUs, fastest of {args.repeats} runs each")
    for mode, (wall, _, others) in best.items():
        print(f"  {mode:<16} {wall:6.1f} s   ({args.count / wall:.1f} submissions/s"
              f"{'; ' + goals[mode] if mode in goals else ''})   "
              f"others took {others / wall:.0%} of a CPU meanwhile")
    two, totals_two = best["--jobs 2"][:2]
    if "--jobs 1" in best:
        print(f"  speed-up         {best['--jobs 1'][0] / two:6.2f}x  (--jobs 1 / --jobs 2; "
              "goal >= 1.8x)")
    dask = best["dask, 2 workers"][0]
    print(f"  cluster / local  {dask / two:6.2f}x  (dask, 2 workers / --jobs 2; goal <= 1.15x)")
    same = len({tuple(totals) for _, totals, _ in best.values()}) == 1
    print(f"  {'same grades' if same else 'GRADES DIFFER'} in every mode, "
          f"mean score {sum(totals_two) / max(len(totals_two), 1):.1f}")
    if max(others / wall for wall, _, others in best.values()) > 0.1:
        print("  (the machine was not idle: the times measure the CPUs left to us)")


if __name__ == "__main__":
    main()
