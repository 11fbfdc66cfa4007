"""`python -m autograder grade-all SUBMISSIONS_DIR --output DIR [--jobs N] [--shard i/n]`
and `python -m autograder grade-all --merge DIR1 DIR2 ... --output DIR`.

Grades every sub-folder or .zip of SUBMISSIONS_DIR in a pool of N worker processes (each
worker calls grade(), which runs the student's code in its own sandboxed process). Only
this process writes: one record per submission, atomically, as each grading finishes,
then the gradebook and the reports are rebuilt from the records. Killed at any moment
(even SIGKILL) and run again, it grades only what has no record or changed since.
Workers die with this process (PR_SET_PDEATHSIG), so a killed run leaves nothing behind.
"""
import argparse
import ctypes
import dataclasses
import fcntl
import multiprocessing
import os
import signal
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from tqdm import tqdm

from autograder.classroom import store
from autograder.classroom.report import inert_text

BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", type=Path, nargs="?",
                        help="a folder: each sub-folder or .zip is one submission")
    parser.add_argument("--output", type=Path, required=True,
                        help="results folder (results/, grades.csv, report.html, ...)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="parallel gradings (default: one per CPU)")
    parser.add_argument("--shard", default=None, metavar="i/n",
                        help="grade only the submissions whose name hashes to shard i of n; "
                             "'auto': i and n of a Slurm job array (SLURM_ARRAY_TASK_*)")
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                        help="grade on a Dask cluster: one task per submission (--jobs is "
                             "then the cluster's: its workers' threads)")
    parser.add_argument("--worker-timeout", type=float, default=120.0, metavar="SECONDS",
                        help="with --scheduler: how long to wait for a first worker (120)")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="DIR",
                        help="merge these results folders into --output (no grading)")
    parser.add_argument("--regrade", action="store_true",
                        help="grade every submission again, even unchanged ones")
    parser.add_argument("--no-isolation", action="store_true",
                        help="grade even where the student's code cannot be isolated")
    parser.add_argument("--timeout-scale", type=float, default=None,
                        help="multiply every per-case time limit (default 1)")


def run(args, config) -> int:
    from autograder.sandbox import isolation  # refuse untrusted code where nothing isolates it
    if getattr(args, "no_isolation", False):
        config = dataclasses.replace(config, allow_no_isolation=True)
    if not getattr(args, "merge", None) and isolation.refusal(config):
        print(isolation.refusal(config), file=sys.stderr)
        return 2
    if args.timeout_scale is not None:
        config = dataclasses.replace(config, timeout_scale=args.timeout_scale)
    try:
        shard = _parse_shard(args.shard, os.environ)
    except ValueError as exc:
        print(f"grade-all: --shard {args.shard}: {exc}", file=sys.stderr)
        return 2
    if not args.merge and (args.submissions is None or not args.submissions.is_dir()):
        print(f"grade-all: {args.submissions} is not a folder of submissions", file=sys.stderr)
        return 2
    out = args.output
    out.mkdir(parents=True, exist_ok=True)
    with _exclusive(out):
        if args.merge:
            return _merge(args.merge, out)
        return _grade_folder(args, config, out, shard)


def _grade_folder(args, config, out: Path, shard) -> int:
    submissions, ignored = store.discover(args.submissions)
    submissions = [s for s in submissions if s.path.resolve() != out.resolve()]
    store.clean_temporaries(out)
    grader = store.grader_version(config)
    todo = []
    for sub in submissions:
        if shard and not store.in_shard(sub.key, shard):
            continue
        sha = store.content_hash(sub.path)
        record = store.load_record(store.record_path(out, sub.key))
        if args.regrade or record is None or record["submission"]["content_sha256"] != sha:
            todo.append((sub, sha))
    mine = sum(1 for s in submissions if not shard or store.in_shard(s.key, shard))
    jobs = max(1, args.jobs or config.batch_jobs or os.cpu_count() or 1)
    progress = Progress(len(todo), up_to_date=mine - len(todo))
    if args.scheduler:
        from autograder.classroom import dask_grading as batch_dask

        graded, failure = (batch_dask.grade_on_cluster(todo, args.scheduler, config, grader,
                                                       args.worker_timeout),
                           batch_dask.ClusterError)
    else:
        graded, failure = grade_in_pool(todo, jobs, config, grader), ()
    try:
        for record in graded:
            store.write_json_atomic(store.record_path(out, record["submission"]["file"]), record)
            store.append_log(out, record)
            progress.advance(record["submission"]["name"])
    except KeyboardInterrupt:
        progress.finish(interrupted=True)
        print("grade-all: interrupted; what was graded is kept: run the same command again "
              "to grade the rest", file=sys.stderr)
        return 130
    except failure as exc:
        progress.finish(interrupted=True)
        print(f"grade-all: {exc}", file=sys.stderr)
        return 2
    progress.finish()
    from autograder.classroom import pages as batch_pages

    everything = store.load_records_by_key(out)
    names = {s.key: s.name for s in submissions if s.key in everything}
    records = store.by_name({key: everything[key] for key in names}, names)
    left_out = sorted(set(everything) - set(names))
    notes = [f"ignored (not a folder or a .zip): {', '.join(ignored)}"] if ignored else []
    if left_out:
        notes.append(f"results with no submission in {args.submissions} (left out of the "
                     f"gradebook): {', '.join(left_out)}")
    if shard:
        notes.append(f"shard {shard[0]}/{shard[1]}: {mine} of {len(submissions)} submissions")
    print(batch_pages.build(records, out, notes, grader))
    from autograder.secret import creation_notice

    if notice := creation_notice():
        print(notice, file=sys.stderr)
    return 0


def _merge(sources: list[Path], out: Path) -> int:
    from autograder.classroom import pages as batch_pages

    missing = [s for s in sources if not (s / "results").is_dir()]
    if missing:
        print(f"grade-all --merge: no results/ in {', '.join(map(str, missing))}",
              file=sys.stderr)
        return 2
    store.clean_temporaries(out)
    notes = store.merge(sources, out)
    notes.append(f"merged from {', '.join(map(str, sources))}")
    print(batch_pages.build(store.load_records(out), out, notes))
    return 0


def _parse_shard(text: str | None, environ) -> tuple[int, int] | None:
    """(i, n) from "i/n", or from a Slurm job array's variables for "auto"."""
    if text is None:
        return None
    if text == "auto":
        return _slurm_shard(environ)
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError("expected i/n, such as 0/4, or auto") from None
    if not 0 <= index < count:
        raise ValueError(f"expected 0 <= i < n, got i={index} n={count}")
    return index, count


def _slurm_shard(environ) -> tuple[int, int]:
    """Shard i of n for `sbatch --array=MIN-MAX[:STEP]`: i counts the array's tasks from 0
    (task ids need not start at 0); n is SLURM_ARRAY_TASK_COUNT."""
    def number(name: str, default: int | None = None) -> int:
        value = environ.get(name)
        if value is None and default is not None:
            return default
        if value is None or not value.strip().isdigit():
            raise ValueError(f"auto needs {name} (set inside a Slurm job array), got {value!r}")
        return int(value)

    task, low = number("SLURM_ARRAY_TASK_ID"), number("SLURM_ARRAY_TASK_MIN", 0)
    step = max(number("SLURM_ARRAY_TASK_STEP", 1), 1)
    high = number("SLURM_ARRAY_TASK_MAX", task)
    count = number("SLURM_ARRAY_TASK_COUNT", (high - low) // step + 1)
    index = (task - low) // step
    if not 0 <= index < count or (task - low) % step:
        raise ValueError(f"task {task} is not one of the {count} tasks of the array "
                         f"{low}-{high}:{step}; use --shard i/n")
    return index, count


class _exclusive:
    """One grade-all at a time per results folder (the lock dies with the process)."""

    def __init__(self, out: Path):
        self.path = Path(out) / ".grade-all.lock"

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise SystemExit(f"grade-all: another grade-all is writing to {self.path.parent}")
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


# ---- the pool --------------------------------------------------------------------------

def grade_in_pool(todo, jobs: int, config, grader: str):
    """Yield one record per (submission, hash), in the order they finish.

    A worker that dies (not an exception: those become error records in the worker)
    breaks the pool; the submissions then unfinished are graded again one at a time in a
    fresh single worker, so that the one that kills its worker gets an error record and
    the others their grades."""
    if not todo:
        return
    unfinished, finished = [], False
    pool = _pool(min(jobs, len(todo)), config)
    futures = {pool.submit(_grade_one, sub, sha, grader): (sub, sha) for sub, sha in todo}
    try:
        for future in as_completed(futures):
            sub, sha = futures[future]
            try:
                yield future.result()
            except BrokenProcessPool:
                unfinished.append((sub, sha))
            except Exception:  # noqa: BLE001 (e.g. a result that could not be sent back)
                yield store.error_record(sub, sha, grader, traceback.format_exc())
        finished = True
    finally:  # interrupted: do not wait for the gradings under way
        pool.shutdown(wait=finished, cancel_futures=not finished)
    for sub, sha in sorted(unfinished, key=lambda item: item[0].name):
        pool = _pool(1, config)
        try:
            yield pool.submit(_grade_one, sub, sha, grader).result()
        except BrokenProcessPool:
            yield store.error_record(sub, sha, grader, "the grading process died (killed, "
                                     "out of memory, or crashed) while grading this submission")
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


def _pool(workers: int, config) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(config, os.getpid()))


_CONFIG = None


def _init_worker(config, parent: int) -> None:
    global _CONFIG
    _CONFIG = config
    for var in BLAS_THREADS:  # the reference computations: one core per worker (numpy
        os.environ[var] = "1"  # is not imported yet in a freshly spawned worker)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:  # die with the parent, even when it is SIGKILLed
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


def _grade_one(sub: store.Submission, sha: str, grader: str) -> dict:
    try:
        from autograder.judging.grade import grade

        return store.make_record(sub, sha, grader, grade(sub.path, _CONFIG))
    except Exception:  # noqa: BLE001 (the grader's own failure: recorded, never lost)
        return store.error_record(sub, sha, grader, traceback.format_exc())


# ---- progress --------------------------------------------------------------------------

class Progress:
    """A tqdm bar on stderr (done/total, rate, time left, the last name graded); only the
    final line when stderr is not a terminal (logs, CI)."""

    def __init__(self, total: int, up_to_date: int = 0, stream=None):
        self.total, self.up_to_date, self.done = total, up_to_date, 0
        self.stream = stream or sys.stderr
        tty = self.stream.isatty()
        if tty and up_to_date:
            print(f"{up_to_date} submissions already graded and unchanged", file=self.stream)
        self.start = time.monotonic()
        self.bar = tqdm(total=total, file=self.stream, disable=not tty, unit=" submissions",
                        dynamic_ncols=True, mininterval=0.1, leave=True)

    def advance(self, name: str) -> None:
        self.done += 1  # counted here: a disabled tqdm counts nothing
        self.bar.set_postfix_str(inert_text(name)[:30], refresh=False)
        self.bar.update(1)

    def finish(self, interrupted: bool = False) -> None:
        self.bar.close()
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        word = "interrupted after grading" if interrupted else "graded"
        print(f"grade-all: {word} {self.done}/{self.total} in {elapsed:.1f} s "
              f"({rate:.1f}/s); {self.up_to_date} already graded and unchanged",
              file=self.stream)
