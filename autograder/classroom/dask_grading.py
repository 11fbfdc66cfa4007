"""grade-all on a Dask cluster: `--scheduler tcp://HOST:PORT`.

Each submission is one task. The client sends the submission's bytes (a .zip as it is, a
folder packed into a zip of its regular files), a worker unpacks them into a private
temporary folder and grades them with grade(), which runs the student's code in its own
sandboxed process on that worker, exactly as a local run does; the task returns the
record. Only the client writes, with the same atomic, resumable store as a local run
(batch.py), so the gradebook and the report are the same.

A worker grades with its own installation (autograder/, solutions/, the secret) and its
own isolation: before the first task the client asks the scheduler (which unpickles every
task, so it must import the grader) and every worker for its grader version, and every
worker whether it can isolate the student's code (isolation.refusal, which a local run
asks itself), and refuses to start when one differs or cannot; a worker that joins later
and differs, or cannot isolate, records a grader error instead of a grade. With no worker
yet, the client says it is waiting and gives up after WORKER_WAIT seconds
(--worker-timeout), before any record is written; left with no worker mid-run, the same
(what was graded is kept). A worker that dies mid-task (killed, out of memory) has its
task re-run on another worker by the scheduler; a submission that kills its worker every
time (dask's distributed.scheduler.allowed-failures, 3 by default) gets an error record,
as in a local run.

The cluster's own housekeeping competes with the grading for the workers' CPUs: with
Dask's defaults every worker samples its task's stack 100 times a second (the
statistical profiler), every worker, nanny and scheduler wakes 50 times a second to
time its event loop, and every worker and nanny reads its memory use 10 times a second:
12 % of a CPU for an idle two-worker LocalCluster (2 % with WORKER_CONFIG), more while
it grades (the profiler walks the grader's stack; 40 submissions: 21-25 CPU seconds in
all, against 18-21 with WORKER_CONFIG and 18-19 for --jobs 2). Grading needs none of
it: `python -m autograder dask-scheduler` and `dask-worker` (dask_start.py) start the
scheduler and the workers with WORKER_CONFIG, as environment variables
(worker_environment()).
"""
import dataclasses
import io
import os
import sys
import tempfile
import traceback
import zipfile
from pathlib import Path

from autograder.classroom import store
from autograder.intake import submission
from autograder.settings import SETTINGS

CONNECT_TIMEOUT = "20s"
WORKER_WAIT = 120.0  # seconds grade-all waits for a first worker (--worker-timeout)
START_WORKERS = ("start workers from the project's folder with `.venv/bin/python -m "
                 "autograder dask-worker {address}` (README: Beyond one machine)")
PACKED_BYTES = 256 << 20  # a folder larger than this is not sent (grade it locally)
# The Config fields a worker grades with: every setting of the file, and the rest that
# the command line or a library caller may change.
GRADING_FIELDS = tuple(sorted({s.field for s in SETTINGS} | {
    "student_group", "namespaces", "allow_no_isolation", "points", "settings_file"}))
# The Dask settings a grading cluster should run with (see the module's docstring).
WORKER_CONFIG = {
    "distributed.worker.profile.enabled": False,  # 100 stack samples a second per worker
    "distributed.admin.tick.interval": "1s",  # the event-loop watchdog: 50 wake-ups a second
    "distributed.worker.memory.monitor-interval": "1s",  # worker and nanny: 10 reads a second
}


def worker_environment() -> dict[str, str]:
    """WORKER_CONFIG as the DASK_* environment variables that `dask scheduler` and
    `dask worker` read at start."""
    return {"DASK_" + key.replace(".", "__").replace("-", "_").upper(): str(value)
            for key, value in WORKER_CONFIG.items()}


class ClusterError(Exception):
    """The scheduler cannot be reached or used."""


def pack(path: Path) -> tuple[str, bytes]:
    """("zip", a zip of the files the grader reads) for any submission that has them;
    else ("zip", the file's bytes) for a .zip; ("folder", a zip of the folder's regular
    files, symbolic links left out as the local grader leaves them out). Stored, not
    compressed: deflating costs the client 4x the time for a few kB per submission."""
    path = Path(path)
    try:  # only what the grader reads: never a .venv or a data set
        chosen = submission.select(path, submission.GRADED)
        if set(submission.REQUIRED) <= set(chosen.files):
            return "zip", submission.graded_zip(path, chosen)
    except submission.SubmissionError:
        pass
    # a file missing: the worker grades the whole of it and lists what it found
    if path.is_file():
        return "zip", path.read_bytes()
    buffer, total = io.BytesIO(), 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for parent, dirs, files in os.walk(path):  # links to folders are not followed
            for name in sorted(files):
                file = Path(parent) / name
                if file.is_symlink() or not file.is_file():
                    continue
                total += file.stat().st_size
                if total > PACKED_BYTES:
                    raise ValueError(f"{path} holds more than {PACKED_BYTES >> 20} MB")
                zf.write(file, file.relative_to(path).as_posix())
    return "folder", buffer.getvalue()


def unpack(kind: str, data: bytes, file_name: str, into: Path) -> Path:
    """The submission as the local grader would see it, under `into`."""
    target = Path(into) / file_name
    if kind == "zip":  # a .zip, or the graded files of a folder (pack)
        target = target if target.suffix.lower() == ".zip" else target.with_name(
            target.name + ".zip")
        target.write_bytes(data)
        return target
    with zipfile.ZipFile(io.BytesIO(data)) as zf:  # packed by pack() on the client
        for entry in zf.infolist():
            parts = Path(entry.filename).parts
            if entry.filename.startswith("/") or ".." in parts:
                continue
            destination = target.joinpath(*parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(zf.read(entry))
    target.mkdir(exist_ok=True)
    return target


def grading_settings(config) -> dict:
    """What a grade depends on besides the installation: sent with every task."""
    return {name: getattr(config, name) for name in GRADING_FIELDS}


def _tuples(settings: dict) -> dict:
    """The fields as the Config holds them (a list that crossed the wire is a tuple)."""
    def tuple_of(value):
        return tuple(tuple_of(v) for v in value) if isinstance(value, list) else value
    return {name: tuple_of(value) for name, value in settings.items()}


_WORKER_GRADER = {}  # settings -> (the worker's grader version, its refusal), once


def worker_grader(settings: dict) -> tuple[str, str]:
    """(the grader version of the installation this worker runs, why this worker must
    not run untrusted code or ""), computed once per process and settings."""
    from autograder.sandbox import isolation
    from autograder.config import DEFAULT

    key = tuple(sorted(settings.items()))
    if key not in _WORKER_GRADER:
        config = dataclasses.replace(DEFAULT, **_tuples(settings))
        _WORKER_GRADER[key] = (store.grader_version(config), isolation.refusal(config) or "")
    return _WORKER_GRADER[key]


def scheduler_grader(settings: dict) -> str:
    """Runs on the scheduler: the grader version of the installation it imports."""
    from autograder.config import DEFAULT

    return store.grader_version(dataclasses.replace(DEFAULT, **_tuples(settings)))


def check_scheduler(client, address: str, grader: str, settings: dict) -> None:
    """Refuse to start when the scheduler cannot import the grader (it unpickles every
    task: each would fail) or imports another version of it."""
    try:
        theirs = client.run_on_scheduler(scheduler_grader, settings)
    except Exception as exc:  # noqa: BLE001 (any failure here is the cluster's set-up)
        raise ClusterError(f"the Dask scheduler at {address} cannot import the grader "
                           f"({_why(exc)}): start it from the project's folder with "
                           "`.venv/bin/python -m autograder dask-scheduler`") from None
    if theirs != grader:
        raise ClusterError(f"the Dask scheduler at {address} imports another version of the "
                           f"grader ({theirs}) than this one ({grader}): start it from a "
                           "checkout with the same autograder/, solutions/ and secret")


def wait_for_workers(client, address: str, seconds: float, stream=None) -> None:
    """Return once a worker has joined; say so while waiting; give up after `seconds`."""
    if client.nthreads():
        return
    stream = stream or sys.stderr
    print(f"grade-all: waiting for a Dask worker to join the scheduler at {address} "
          f"(giving up in {seconds:g} s; --worker-timeout SECONDS to change it)",
          file=stream, flush=True)
    try:
        client.wait_for_workers(1, timeout=seconds)
    except TimeoutError:
        raise ClusterError(f"no Dask worker joined the scheduler at {address} in {seconds:g} s; "
                           "nothing was graded: " + START_WORKERS.format(address=address)
                           ) from None


def check_workers(client, grader: str, settings: dict,
                  address: str = "tcp://SCHEDULER:8786") -> None:
    """Refuse to start when a worker cannot run this grader, runs another version of it,
    or cannot isolate the student's code (before any task, so that no submission gets a
    record for a cluster's mistake)."""
    try:
        answers = client.run(worker_grader, settings)
    except Exception as exc:  # noqa: BLE001 (any failure here is the cluster's set-up)
        raise ClusterError(f"the Dask workers cannot run the grader ({_why(exc)}): "
                           + START_WORKERS.format(address=address)) from None
    answers = {address: answer if isinstance(answer, (tuple, list)) and len(answer) == 2
               else (None, "") for address, answer in answers.items()}  # None: an older one
    other = sorted(address for address, (version, _) in answers.items() if version != grader)
    if other:
        raise ClusterError(f"the Dask workers at {', '.join(other)} run another version of the "
                           f"grader than this one ({grader}): install the same autograder/, "
                           "solutions/ and grading secret on every worker")
    refusing = {address: why for address, (_, why) in sorted(answers.items()) if why}
    if refusing:
        address, why = next(iter(refusing.items()))
        raise ClusterError(f"the Dask workers at {', '.join(refusing)} cannot isolate the "
                           f"student's code; {address} says: {why}")


def grade_task(name: str, file_name: str, kind: str, data: bytes, sha: str, grader: str,
               settings: dict) -> dict:
    """Runs on a Dask worker: unpack, grade in the sandbox, return the record."""
    sub = store.Submission(name, Path(file_name))
    try:
        from autograder.config import DEFAULT
        from autograder.judging.grade import grade

        config = dataclasses.replace(DEFAULT, **_tuples(settings))
        mine, refusal = worker_grader(settings)
        if mine != grader:  # a worker that joined after check_workers
            return store.error_record(sub, sha, grader, (
                f"this Dask worker's grader (version {mine}) differs from the client's "
                f"({grader}): install the same autograder/, solutions/ and grading secret "
                "on every worker"))
        if refusal:  # the same: nothing of the submission runs here
            return store.error_record(sub, sha, grader, f"this Dask worker cannot isolate "
                                      f"the student's code: {refusal}")
        with tempfile.TemporaryDirectory(prefix="rnn-dask-") as tmp:
            path = unpack(kind, data, file_name, Path(tmp))
            return store.make_record(sub, sha, grader, grade(path, config))
    except Exception:  # noqa: BLE001 (the grader's own failure: recorded, never lost)
        return store.error_record(sub, sha, grader, traceback.format_exc())


def connect(address: str):
    from distributed import Client

    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address} ({exc}); start "
                           "one from the project's folder with `.venv/bin/python -m "
                           "autograder dask-scheduler`, then "
                           + START_WORKERS.format(address=address)) from None


def grade_on_cluster(todo, address: str, config, grader: str,
                     worker_wait: float = WORKER_WAIT):
    """Yield one record per (submission, hash), in the order they finish on the cluster."""
    if not todo:
        return
    client = connect(address)
    settings = grading_settings(config)
    futures = {}
    try:
        check_scheduler(client, address, grader, settings)
        wait_for_workers(client, address, worker_wait)
        check_workers(client, grader, settings, address)
        for i, (sub, sha) in enumerate(todo):
            try:
                kind, data = pack(sub.path)
            except (OSError, ValueError) as exc:
                yield store.error_record(sub, sha, grader, f"could not send it: {exc}")
                continue
            future = client.submit(grade_task, sub.name, sub.path.name, kind, data, sha,
                                   grader, settings, key=f"grade-{i}-{sha[:16]}", pure=False)
            futures[future] = (sub, sha)
        for future in finished(client, list(futures), address, worker_wait):
            sub, sha = futures.pop(future)
            try:
                yield future.result()
            except Exception as exc:  # noqa: BLE001 (grade_task itself never raises)
                if type(exc).__name__ != "KilledWorker":  # the cluster failed, not the grading
                    raise ClusterError(f"the Dask cluster failed on {sub.name}: {_why(exc)}; "
                                       "what was graded is kept") from None
                yield store.error_record(sub, sha, grader, _why(exc))
    finally:  # interrupted: the cluster stops the tasks of a client that leaves
        for future in futures:
            future.cancel()
        client.close()


def finished(client, futures: list, address: str, worker_wait: float):
    """Yield the futures as they finish. A cluster left with no worker (a lost machine, a
    batch job's time limit) is said so at once and given up after `worker_wait` seconds,
    instead of being waited for without a word."""
    from distributed import wait

    pending, alone_since = set(futures), None
    while pending:
        try:
            with client.as_current():  # wait() asks for "the" client: this one
                done, pending = wait(pending, timeout=min(5.0, worker_wait / 2),
                                     return_when="FIRST_COMPLETED")
        except TimeoutError:  # nothing finished in a while: is anyone grading?
            alone_since = _alone(client, address, worker_wait, alone_since)
            continue
        alone_since = None
        yield from done


def _alone(client, address: str, worker_wait: float, since: float | None) -> float | None:
    """None while the scheduler has workers; else when it was first seen without, until
    that is `worker_wait` seconds ago (ClusterError)."""
    import time

    if client.nthreads():
        return None
    now = time.monotonic()
    if since is None:
        print(f"grade-all: no Dask worker is left at {address}; waiting for one (giving up "
              f"in {worker_wait:g} s)", file=sys.stderr, flush=True)
        return now
    if now - since >= worker_wait:
        raise ClusterError(f"no Dask worker at {address} for {worker_wait:g} s; what was "
                           "graded is kept: " + START_WORKERS.format(address=address)
                           + ", then run the same command again")
    return since


def _why(exc: BaseException) -> str:
    if type(exc).__name__ == "KilledWorker":
        return ("the grading process died (killed, out of memory, or crashed) on every "
                "Dask worker that tried this submission")
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()
