"""Batch grading speed: 100 submissions with --jobs 1, --jobs 2 and on a two-worker Dask
LocalCluster, side by side.
批量评分的速度：100 份作业，--jobs 1、--jobs 2 与两个 worker 的 Dask 集群并排比较。

    .venv/bin/python bench/bench_batch.py [--count 100] [--repeats 3] [--no-jobs1]
                                          [--dask-defaults]        (part of `make bench`)

Generates COUNT submissions into a temporary folder (copies of the reference and of a
few buggy variants, each with a distinct comment so that every one is graded on its own
hidden cases) and grades them with `python -m autograder grade-all` into a fresh results
folder with --jobs 1, with --jobs 2, and with --scheduler on a LocalCluster of two worker
processes with nannies (one thread each, as `dask worker --nthreads 1` starts them),
started with the settings autograder/classroom/dask_grading.py recommends (WORKER_CONFIG; Dask's own
defaults with --dask-defaults). Runs alternate (1, 2, dask, 1, 2, dask, ...).

How it counts. Wall time covers the whole command: interpreter start, the pool's start
(or connecting to the scheduler), grading, gradebook and report. Each dask run gets a
fresh cluster, started just before the command and closed after it: its workers are as
cold as a fresh pool's (no grader imported, no reference loaded, no isolation probed),
and no idle cluster slows the local runs down. The cluster's start-up (spawning the
nannies' workers, importing Dask, registering) is timed apart and printed: the goal is
on the command, as a course's cluster runs before grade-all and is shared by its runs,
and the ratio with the start-up added is printed next to it.
It prints the min and the median of each, their ratios, the ratios of neighbouring runs
(on a shared machine the load changes over minutes: a run and the one just before it
see about the same), every run's time, and next to each mode the share of a CPU that
other processes (or the hypervisor) took meanwhile, since a busy machine slows every
mode without saying so. The goals: jobs 2 <= 60 s, speed-up >= 1.8x, the
cluster at most 15 % slower than --jobs 2.
It is a benchmark, not a test: nothing fails on a slow machine.
"""
import argparse
import contextlib
import csv
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
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
    """This process (with --scheduler: the scheduler and the nannies) and its children."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


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


@contextlib.contextmanager
def local_cluster(dask_defaults: bool = False):
    """A fresh LocalCluster of two single-threaded worker processes (with nannies) on
    loopback: yields (scheduler address, worker pids, seconds it took to start)."""
    import dask
    from distributed import Client, LocalCluster

    # The workers import the grader, as `dask worker` does on a course's machines (the
    # nannies spawn them with this process's sys.path).
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    settings = {}
    if not dask_defaults:
        from autograder.classroom.dask_grading import WORKER_CONFIG as settings

    # the scheduler's HTTP server (health checks) moves off 8787 if another cluster has it
    warnings.filterwarnings("ignore", message="Port 8787 is already in use")
    start = time.perf_counter()
    # for the cluster's whole life: a nanny restarts a worker with the settings of then
    with dask.config.set(settings), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                         scheduler_port=0, dashboard_address=None, silence_logs=50) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(2)
        started = time.perf_counter() - start
        yield cluster.scheduler_address, list(client.run(os.getpid).values()), started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each, alternated; the min and the median are reported")
    parser.add_argument("--no-jobs1", action="store_true",
                        help="skip --jobs 1 (compare --jobs 2 and the cluster only)")
    parser.add_argument("--dask-defaults", action="store_true",
                        help="start the cluster with Dask's default settings, not with "
                             "batch_dask.WORKER_CONFIG")
    args = parser.parse_args()
    modes = ["--jobs 1", "--jobs 2", "dask, 2 workers"][1 if args.no_jobs1 else 0:]
    runs = {mode: [] for mode in modes}  # mode -> [(wall, totals, others, start-up)]
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        submissions = Path(tmp) / "submissions"
        make_submissions(submissions, args.count)
        for repeat in range(args.repeats):  # alternated: a busy spell hits every mode
            for k, mode in enumerate(modes):
                out = Path(tmp) / f"run{k}-{repeat}"
                if mode.startswith("dask"):
                    with local_cluster(args.dask_defaults) as (address, pids, started):
                        run = grade_all(submissions, out, ["--scheduler", address], pids)
                    runs[mode].append((*run, started))
                else:
                    runs[mode].append((*grade_all(submissions, out, mode.split()), 0.0))
    report(args, runs)


def report(args, runs: dict) -> None:
    goals = {"--jobs 2": "goal <= 60 s", "dask, 2 workers": "goal <= 1.15x --jobs 2"}
    config = "Dask's defaults" if args.dask_defaults else "batch_dask.WORKER_CONFIG"
    print(f"grade-all, {args.count} submissions (reference + {len(BUGS)} buggy variants), "
          f"{os.cpu_count()} CPUs, {args.repeats} runs of each, alternated; the cluster: a "
          f"fresh 2-worker LocalCluster per run ({config}), its start-up timed apart")
    walls = {mode: [run[0] for run in done] for mode, done in runs.items()}
    for mode, done in runs.items():
        wall = walls[mode]
        others = sum(run[2] for run in done) / sum(wall)
        print(f"  {mode:<16} min {min(wall):6.1f} s  median {statistics.median(wall):6.1f} s"
              f"   ({args.count / min(wall):.1f} submissions/s"
              f"{'; ' + goals[mode] if mode in goals else ''})   "
              f"others took {others:.0%} of a CPU meanwhile")
    two, dask = walls["--jobs 2"], walls["dask, 2 workers"]
    started = [run[3] for run in runs["dask, 2 workers"]]
    print(f"  cluster start-up min {min(started):6.1f} s  median {statistics.median(started):6.1f} s"
          "   (not in the dask line: the cluster runs before grade-all)")
    if "--jobs 1" in walls:
        one = walls["--jobs 1"]
        print(f"  speed-up         min {min(one) / min(two):5.2f}x  median "
              f"{statistics.median(one) / statistics.median(two):5.2f}x   "
              "(--jobs 1 / --jobs 2; goal >= 1.8x)")
    print(f"  cluster / local  min {min(dask) / min(two):5.2f}x  median "
          f"{statistics.median(dask) / statistics.median(two):5.2f}x   "
          "(dask, 2 workers / --jobs 2; goal <= 1.15x)")
    paired = [d / t for d, t in zip(dask, two)]  # runs next to each other: the same load
    print(f"  paired runs      min {min(paired):5.2f}x  median {statistics.median(paired):5.2f}x"
          "   (each dask run / the --jobs 2 run just before it)")
    with_start = [wall + start for wall, start in zip(dask, started)]
    print(f"  with start-up    min {min(with_start) / min(two):5.2f}x  median "
          f"{statistics.median(with_start) / statistics.median(two):5.2f}x   "
          "(dask + its cluster's start-up / --jobs 2)")
    for mode, wall in walls.items():  # in the order they ran: a busy spell shows
        print(f"  runs of {mode + ':':<17}" + " ".join(f"{w:5.1f}" for w in wall))
    grades = {tuple(run[1]) for done in runs.values() for run in done}
    totals = runs["--jobs 2"][0][1]
    print(f"  {'same grades' if len(grades) == 1 else 'GRADES DIFFER'} in every run, "
          f"mean score {sum(totals) / max(len(totals), 1):.1f}")
    if max(sum(run[2] for run in done) / sum(walls[mode]) for mode, done in runs.items()) > 0.1:
        print("  (the machine was not idle: the times measure the CPUs left to us)")


if __name__ == "__main__":
    main()
