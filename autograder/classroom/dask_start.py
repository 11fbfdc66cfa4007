"""`python -m autograder dask-scheduler` and `python -m autograder dask-worker SCHEDULER`.

A Dask cluster that grades, started from the project's folder with nothing else set up
(no PYTHONPATH, no activated environment): each verb replaces itself (exec) with Dask's
own `dask scheduler` / `dask worker`, with

- the project's folder on PYTHONPATH: the scheduler unpickles every task, so it must
  import the grader too, and the nannies' worker processes inherit it;
- Dask's background housekeeping switched off (batch_dask.WORKER_CONFIG, as DASK_*
  variables; an instructor's own DASK_* setting wins);
- one BLAS thread per process (autograder/__main__.py sets it), and on the workers one
  single-threaded worker process per CPU: each grading is one thread of work;
- no dashboard (it needs bokeh, which the project does not pin).

The grading settings (time limits, isolation) travel with every task from the client
(batch_dask.grading_settings), so a worker needs no settings of its own.
"""
import argparse
import os
import sys

from autograder.config import ROOT

SCHEDULER_PORT = 8786  # Dask's own default


def add_scheduler_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="",
                        help="address to listen on (default: every interface; keep the "
                             "port on a private network)")
    parser.add_argument("--port", type=int, default=SCHEDULER_PORT,
                        help=f"port (default {SCHEDULER_PORT})")


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scheduler", metavar="tcp://HOST:PORT",
                        help="the scheduler's address, as `dask-scheduler` prints it")
    parser.add_argument("--nworkers", type=int, default=None,
                        help="single-threaded worker processes (default: one per CPU this "
                             "process may use, e.g. a Slurm job's)")
    parser.add_argument("--memory-limit", default="auto",
                        help="per worker process, as Dask reads it (default: auto, the "
                             "machine's memory shared among them)")


def environment(base: dict[str, str]) -> dict[str, str]:
    """`base` with the project on PYTHONPATH and the grading cluster's Dask settings."""
    from autograder.classroom.dask_grading import worker_environment

    env = dict(base)
    path = [str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))
    for name, value in worker_environment().items():
        env.setdefault(name, value)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    return env


def scheduler_command(args) -> list[str]:
    command = [sys.executable, "-m", "distributed.cli.dask_scheduler",
               "--port", str(args.port), "--no-dashboard"]
    return command + (["--host", args.host] if args.host else [])


def usable_cpus() -> int:
    """The CPUs this process may run on (a Slurm job's, a taskset's), else all of them."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_command(args) -> list[str]:
    workers = usable_cpus() if args.nworkers is None else args.nworkers
    if workers < 1:
        raise ValueError(f"--nworkers {args.nworkers}: expected at least 1")
    return [sys.executable, "-m", "distributed.cli.dask_worker", args.scheduler,
            "--nworkers", str(workers), "--nthreads", "1", "--memory-limit",
            str(args.memory_limit), "--no-dashboard"]


def run(command, verb: str) -> int:
    """Become `command` (exec), in the grading cluster's environment."""
    try:
        argv = command()
    except ValueError as exc:
        print(f"python -m autograder {verb}: {exc}", file=sys.stderr)
        return 2
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, environment(os.environ))
    return 0  # not reached: exec replaced this process
