"""grade-all --scheduler: the same grades, gradebook and report as a local run, on a
cluster started with the README's commands as written (a plain shell in the project's
folder: no PYTHONPATH, no activated environment), also when a worker is killed mid-run;
no worker: a clear message and a timeout; a scheduler that cannot import the grader is
refused; --shard auto from a Slurm job array's variables."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from autograder.classroom import grade_all as batch, dask_grading as batch_dask, store as batch_store
from autograder.config import DEFAULT
import conftest
from conftest import ROOT, SOLUTIONS


def _copy(folder: Path, old: str = "", new: str = "", comment: str = "") -> Path:
    shutil.copytree(SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    layers = folder / "rnn_layers.py"
    text = layers.read_text()
    if old:
        assert text.count(old) == 1
        text = text.replace(old, new)
    layers.write_text(text + (f"\n# {comment}\n" if comment else ""))
    return folder


def _grade_all(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "grade-all", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, **kwargs)


def _readme_grade_all(address: str, submissions: Path, out: Path, *extra: str):
    """The README's grade-all line, in a plain shell in the project's folder."""
    port = int(address.rsplit(":", 1)[1])
    line = _fill(readme_dask_commands()["grade-all"], port, SUBMISSIONS=submissions, DIR=out)
    return subprocess.run(" ".join([line, *extra]), shell=True, cwd=ROOT, env=fresh_shell(),
                          capture_output=True, text=True, timeout=300)


def readme_dask_commands() -> dict[str, str]:
    """The Dask command lines of the README's "Beyond one machine" section, by verb."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Beyond one machine\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section, "README.md has no 'Beyond one machine' section"
    lines = [line.strip() for block in re.findall(r"```\n(.*?)```", section.group(1), re.S)
             for line in block.splitlines() if "--scheduler" in line or " dask-" in line]
    commands = {line.split()[3]: line for line in lines
                if line.startswith(".venv/bin/python -m autograder ")}
    assert set(commands) == {"dask-scheduler", "dask-worker", "grade-all"}, lines
    return commands


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fill(line: str, port: int, **places) -> str:
    """A README line with its placeholders filled in (nothing else changes)."""
    line = line.replace("tcp://SCHEDULER:8786", f"tcp://127.0.0.1:{port}")
    line = line.replace("--port 8786", f"--port {port}")
    if places:  # in one pass: a path put in never has a placeholder replaced
        line = re.sub(r"\b(" + "|".join(places) + r")\b", lambda m: str(places[m[1]]), line)
    return line


def fresh_shell() -> dict[str, str]:
    """A new login's, with no Dask or BLAS settings."""
    return conftest.fresh_shell("DASK_", "OPENBLAS_", "OMP_", "MKL_")


WORKERS = min(2, len(os.sched_getaffinity(0)))  # the README's workers in these tests


def _two_cpus() -> None:
    """The worker's machine, as far as its one-per-CPU default sees: two CPUs at most
    (CI machines have many; two workers are enough to test a cluster)."""
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:WORKERS])


def _start(line: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(line, shell=True, cwd=ROOT, env=fresh_shell(),
                            start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            **kwargs)


def _stop(*procs: subprocess.Popen) -> None:
    for proc in procs:  # each started in a session of its own: its group is its processes
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _client(address: str, workers: int = 0, timeout: float = 60):
    """A client of a scheduler just started (and, if asked, of its first workers)."""
    import distributed

    deadline = time.monotonic() + timeout
    while True:
        try:
            client = distributed.Client(address, timeout="2s", set_as_default=False)
            break
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    if workers:
        client.wait_for_workers(workers, timeout=timeout)
    return client


@pytest.fixture(scope="module")
def cluster():
    """The README's scheduler and workers (two, where the machine has two CPUs: the worker
    line sees at most two), as (scheduler address, a client of it)."""
    pytest.importorskip("distributed")
    commands, port = readme_dask_commands(), _free_port()
    scheduler = _start(_fill(commands["dask-scheduler"], port))
    workers = _start(_fill(commands["dask-worker"], port), preexec_fn=_two_cpus)
    address = f"tcp://127.0.0.1:{port}"
    try:
        client = _client(address, workers=WORKERS)
    except (OSError, TimeoutError):
        _stop(workers, scheduler)
        raise AssertionError(f"the README's cluster did not start:\n{scheduler.stderr.read()}"
                             f"\n{workers.stderr.read()}") from None
    yield address, client
    client.close()
    _stop(workers, scheduler)


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("class")
    _copy(folder / "good")
    _copy(folder / "buggy", "np.add.at(dW, x, dout)", "dW[x] += dout")
    _copy(folder / "syntax", "def rnn_forward(", "def rnn_forward((")
    nested = _copy(tmp_path_factory.mktemp("z") / "inner" / "my work", comment="zipped")
    shutil.make_archive(str(folder / "zipped"), "zip", nested.parent.parent, "inner")
    _copy(folder / "deep" / "handin" / "rnn", comment="in a sub-folder")
    (folder / "broken.zip").write_bytes(b"not a zip file")
    return folder


def test_a_dask_run_gives_the_same_gradebook_and_report_as_a_local_run(klass, cluster,
                                                                        tmp_path):
    local, remote = tmp_path / "local", tmp_path / "dask"
    assert _grade_all(klass, "--output", local, "--jobs", 2).returncode == 0
    run = _readme_grade_all(cluster[0], klass, remote)
    assert run.returncode == 0, run.stderr
    for file in ("grades.csv", "grades_tests.csv"):
        assert (remote / file).read_text() == (local / file).read_text()
    assert (remote / "report.html").read_text() == (local / "report.html").read_text()
    for path in (local / "results").glob("*.json"):
        mine, theirs = (json.loads(p.read_text()) for p in (path, remote / "results" / path.name))
        assert [t["score"] for t in mine["tests"]] == [t["score"] for t in theirs["tests"]]
        assert [t["output"] for t in mine["tests"]] == [t["output"] for t in theirs["tests"]]
    totals = {r["submission"]["name"]: r["score"] for r in batch_store.load_records(remote).values()}
    assert totals["good"] == totals["zipped"] == totals["deep"] == 100
    assert 0 < totals["buggy"] < 100 and totals["syntax"] == totals["broken"] == 0
    again = _grade_all(klass, "--output", remote, "--scheduler", cluster[0])
    assert "0/0" in again.stderr and "6 already graded" in again.stderr  # resumable


def test_a_worker_killed_mid_run_loses_no_submission(cluster, tmp_path):
    address, client = cluster
    subs, out = tmp_path / "subs", tmp_path / "out"
    for i in range(12):
        _copy(subs / f"s{i:02d}", comment=f"student {i}")
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade-all", str(subs),
                             "--output", str(out), "--scheduler", address], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list((out / "results").glob("*.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    victim = sorted(client.run(os.getpid).values())[0]
    os.kill(victim, signal.SIGKILL)
    done_at_kill = len(list((out / "results").glob("*.json")))
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert 2 <= done_at_kill < 12, "the worker was not killed mid-run"
    records = batch_store.load_records(out)
    assert sorted(records) == [f"s{i:02d}" for i in range(12)]
    assert all(r["score"] == 100 and not r["submission"]["grader_error"]
               for r in records.values())
    log = [json.loads(line)["name"] for line in (out / "grading-log.jsonl").read_text().splitlines()]
    assert sorted(log) == sorted(records)  # each written exactly once


def test_a_worker_with_another_grader_records_an_error_not_a_grade(tmp_path):
    sub = _copy(tmp_path / "alice")
    kind, data = batch_dask.pack(sub)
    record = batch_dask.grade_task("alice", "alice", kind, data, "sha", "not-this-grader",
                                   batch_dask.grading_settings(DEFAULT))
    assert record["score"] == 0 and "differs from the client's" in record["submission"]["grader_error"]


@pytest.fixture
def no_isolation_here(monkeypatch):
    """A worker where nothing can isolate the student's code (not root, no namespaces)."""
    from autograder.sandbox import isolation

    monkeypatch.setattr(isolation, "choose", lambda config: ("none", ["no namespaces (test)"]))
    monkeypatch.setattr(batch_dask, "_WORKER_GRADER", {})


def test_a_worker_that_cannot_isolate_runs_nothing_of_the_submission(tmp_path, monkeypatch,
                                                                     no_isolation_here):
    import autograder.judging.grade

    monkeypatch.setattr(autograder.judging.grade, "grade", lambda *a: pytest.fail("graded anyway"))
    sub = _copy(tmp_path / "alice")
    kind, data = batch_dask.pack(sub)
    settings = batch_dask.grading_settings(DEFAULT)
    grader, why = batch_dask.worker_grader(settings)
    assert grader == batch_store.grader_version(DEFAULT) and "no namespaces (test)" in why
    record = batch_dask.grade_task("alice", "alice", kind, data, "sha", grader, settings)
    assert record["score"] == 0
    assert "cannot isolate the student's code" in record["submission"]["grader_error"]
    assert "no namespaces (test)" in record["submission"]["grader_error"]


def test_no_isolation_reaches_the_workers(no_isolation_here):
    import dataclasses

    trusting = batch_dask.grading_settings(dataclasses.replace(DEFAULT, allow_no_isolation=True))
    assert trusting["allow_no_isolation"] is True
    assert batch_dask.worker_grader(trusting) == (batch_store.grader_version(DEFAULT), "")


def test_pack_sends_only_what_the_local_grader_reads(tmp_path):
    sub = _copy(tmp_path / "bob" / "nested")
    (tmp_path / "bob" / "notes.txt").write_text("hello")
    (tmp_path / "bob" / ".venv").mkdir()
    (tmp_path / "bob" / ".venv" / "big.bin").write_bytes(b"x" * (1 << 20))
    os.symlink("/etc/passwd", tmp_path / "bob" / "link.py")
    kind, data = batch_dask.pack(tmp_path / "bob")
    assert kind == "zip" and len(data) < 200_000  # no .venv, no notes
    (tmp_path / "unpacked").mkdir()
    copy = batch_dask.unpack(kind, data, "bob", tmp_path / "unpacked")
    assert copy.name == "bob.zip"
    with zipfile.ZipFile(copy) as zf:
        names = zf.namelist()
        assert "nested/rnn_layers.py" in names and "notes.txt" not in names
        assert zf.read("nested/rnn_layers.py") == (sub / "rnn_layers.py").read_bytes()
    assert not any(name.endswith("link.py") or ".venv" in name for name in names)
    assert batch_store.content_hash(copy) == batch_store.content_hash(tmp_path / "bob")


def test_pack_sends_a_submission_without_the_graded_files_whole(tmp_path):
    (tmp_path / "carol").mkdir()
    (tmp_path / "carol" / "notes.txt").write_text("I ran out of time")
    kind, data = batch_dask.pack(tmp_path / "carol")
    (tmp_path / "unpacked").mkdir()
    copy = batch_dask.unpack(kind, data, "carol", tmp_path / "unpacked")
    assert (copy / "notes.txt").read_text() == "I ran out of time"


def test_an_unreachable_scheduler_is_reported(monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(batch_dask, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(batch_dask.ClusterError, match="cannot reach the Dask scheduler"):
        batch_dask.connect("tcp://127.0.0.1:9")


@pytest.mark.parametrize("env, shard", [
    ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, (0, 4)),
    ({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0",
      "SLURM_ARRAY_TASK_MAX": "3"}, (3, 4)),
    ({"SLURM_ARRAY_TASK_ID": "10", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "10"},
     (9, 10)),
    ({"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "8",
      "SLURM_ARRAY_TASK_STEP": "2"}, (2, 5)),
])
def test_shard_auto_reads_the_slurm_array(env, shard):
    assert batch._parse_shard("auto", env) == shard


@pytest.mark.parametrize("env", [{}, {"SLURM_ARRAY_TASK_ID": "x"},
                                 {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "4"},
                                 {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "0",
                                  "SLURM_ARRAY_TASK_MAX": "8", "SLURM_ARRAY_TASK_STEP": "2"}])
def test_shard_auto_outside_a_slurm_array_says_why(env, tmp_path):
    with pytest.raises(ValueError, match="auto needs SLURM_ARRAY_TASK_ID|is not one of"):
        batch._parse_shard("auto", env)
    run = _grade_all(tmp_path, "--output", tmp_path / "out", "--shard", "auto",
                     env={k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
                     | env)
    assert run.returncode == 2 and "--shard auto" in run.stderr


class _FakeClient:
    def __init__(self, answer):
        self.answer = answer

    def run(self, function, *args):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    run_on_scheduler = run


@pytest.mark.parametrize("answer, message", [
    (RuntimeError("Error during deserialization of the task graph"), "cannot run the grader"),
    ({"tcp://a:1": ("v1", ""), "tcp://b:2": ("v2", "")}, "tcp://b:2 run another version"),
    ({"tcp://a:1": ("v1", ""), "tcp://b:2": "v1"}, "tcp://b:2 run another version"),  # older
    ({"tcp://a:1": ("v1", ""), "tcp://b:2": ("v1", "Refusing to grade: no namespaces")},
     "tcp://b:2 cannot isolate the student's code; tcp://b:2 says: Refusing to grade"),
])
def test_a_cluster_that_cannot_grade_is_refused_before_any_task(answer, message):
    with pytest.raises(batch_dask.ClusterError, match=message):
        batch_dask.check_workers(_FakeClient(answer), "v1", {})
    batch_dask.check_workers(_FakeClient({"tcp://a:1": ("v1", "")}), "v1", {})  # all fine


def test_the_recommended_worker_settings_are_dask_settings_and_reach_the_workers(cluster):
    import dask

    from_environment = dask.config.collect_env(batch_dask.worker_environment())
    for key, value in batch_dask.WORKER_CONFIG.items():
        dask.config.get(key)  # a setting this version of Dask has
        assert dask.config.get(key, config=from_environment) == value
        assert set(cluster[1].run(dask.config.get, key).values()) == {value}
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        assert set(cluster[1].run(os.environ.get, name).values()) == {"1"}  # one BLAS thread
    assert len(cluster[1].nthreads()) == WORKERS  # one per CPU it may use
    assert set(cluster[1].nthreads().values()) == {1}  # single-threaded


@pytest.mark.parametrize("base, path", [
    ({}, [str(ROOT)]),
    ({"PYTHONPATH": "/elsewhere"}, [str(ROOT), "/elsewhere"]),
    ({"PYTHONPATH": f"/elsewhere{os.pathsep}{ROOT}"}, [str(ROOT), "/elsewhere"]),
])
def test_the_cluster_commands_put_the_project_first_on_the_path(base, path):
    from autograder.classroom import dask_start

    env = dask_start.environment(base)
    assert env["PYTHONPATH"].split(os.pathsep) == path
    assert {k: env[k] for k in batch_dask.worker_environment()} == batch_dask.worker_environment()


def test_an_instructors_own_dask_setting_wins():
    from autograder.classroom import dask_start

    name = "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL"
    assert name in batch_dask.worker_environment()
    assert dask_start.environment({name: "20ms"})[name] == "20ms"


@pytest.mark.parametrize("argv, workers", [([], None), (["--nworkers", "3"], "3")])
def test_dask_worker_runs_single_threaded_workers_one_per_usable_cpu(argv, workers):
    import argparse

    from autograder.classroom import dask_start

    parser = argparse.ArgumentParser()
    dask_start.add_worker_arguments(parser)
    command = dask_start.worker_command(parser.parse_args(["tcp://h:1", *argv]))
    assert command[:4] == [sys.executable, "-m", "distributed.cli.dask_worker", "tcp://h:1"]
    options = dict(zip(command[4::2], command[5::2]))
    assert options["--nthreads"] == "1"
    assert options["--nworkers"] == (workers or str(len(os.sched_getaffinity(0))))


@pytest.mark.parametrize("answer, message", [
    (ModuleNotFoundError("No module named 'autograder'"),
     "scheduler at tcp://s:1 cannot import the grader .*No module named 'autograder'.*"
     "python -m autograder dask-scheduler"),
    ("v2", r"scheduler at tcp://s:1 imports another version of the grader \(v2\)"),
])
def test_a_scheduler_that_cannot_unpickle_this_grader_is_refused(answer, message):
    with pytest.raises(batch_dask.ClusterError, match=message):
        batch_dask.check_scheduler(_FakeClient(answer), "tcp://s:1", "v1", {})
    batch_dask.check_scheduler(_FakeClient("v1"), "tcp://s:1", "v1", {})  # the same: fine


def test_the_wait_for_workers_in_the_readme_is_grade_alls_default():
    import argparse

    parser = argparse.ArgumentParser()
    batch.add_arguments(parser)
    assert parser.get_default("worker_timeout") == batch_dask.WORKER_WAIT
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"gives up after {batch_dask.WORKER_WAIT:g} s (`--worker-timeout SECONDS`)" in text


def test_without_workers_grade_all_says_it_waits_then_gives_up(tmp_path):
    """The README's scheduler with no worker: the README's grade-all says so and stops,
    grading nothing. Then one worker that is lost mid-run (its machine gone): the same,
    keeping what was graded."""
    pytest.importorskip("distributed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    commands = readme_dask_commands()
    scheduler, worker = _start(_fill(commands["dask-scheduler"], port)), None
    for i in range(6):
        _copy(tmp_path / "class" / f"s{i}", comment=f"student {i}")
    try:
        _client(address).close()
        started = time.monotonic()
        alone = _readme_grade_all(address, tmp_path / "class", tmp_path / "out",
                                  "--worker-timeout", "3")
        took = time.monotonic() - started
        worker = _start(_fill(commands["dask-worker"], port) + " --nworkers 1")
        _client(address, workers=1).close()
        run = subprocess.Popen(_fill(commands["grade-all"], port, SUBMISSIONS=tmp_path / "class",
                                     DIR=tmp_path / "out") + " --worker-timeout 3",
                               shell=True, cwd=ROOT, env=fresh_shell(), text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while not list((tmp_path / "out").glob("results/*.json")) and time.monotonic() < deadline:
            time.sleep(0.02)
        _stop_now(worker)
        _, lost = run.communicate(timeout=120)
    finally:
        _stop(*filter(None, (worker, scheduler)))
    assert alone.returncode == 2, alone.stderr
    assert f"waiting for a Dask worker to join the scheduler at {address}" in alone.stderr
    assert f"no Dask worker joined the scheduler at {address} in 3 s; nothing was graded" \
        in alone.stderr and "python -m autograder dask-worker" in alone.stderr
    assert took < 60  # it gave up (the grading itself never started)
    assert run.returncode == 2, lost
    assert f"no Dask worker is left at {address}; waiting for one" in lost
    assert f"no Dask worker at {address} for 3 s; what was graded is kept" in lost
    kept = list((tmp_path / "out").glob("results/*.json"))
    assert 1 <= len(kept) < 6, "the worker was not lost mid-run"


def _stop_now(proc: subprocess.Popen) -> None:
    """SIGKILL a process's whole session (a machine that is gone)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_a_plain_dask_scheduler_without_the_project_on_its_path_is_refused(tmp_path):
    """What the README used to say (`.venv/bin/dask scheduler`): every task would fail to
    unpickle there; grade-all says so before any task, naming the command to use."""
    pytest.importorskip("distributed")
    port = _free_port()
    dask = Path(sys.executable).parent / "dask"
    if not dask.exists():
        pytest.skip(f"no {dask} (the dask command of the pinned distributed package)")
    scheduler = _start(f"{dask} scheduler --port {port} --no-dashboard")
    try:
        _client(f"tcp://127.0.0.1:{port}").close()
        _copy(tmp_path / "class" / "alice")
        run = _readme_grade_all(f"tcp://127.0.0.1:{port}", tmp_path / "class", tmp_path / "out")
    finally:
        _stop(scheduler)
    assert run.returncode == 2, run.stderr
    assert "cannot import the grader" in run.stderr and "No module named 'autograder'" \
        in run.stderr and "python -m autograder dask-scheduler" in run.stderr
    assert not list((tmp_path / "out").glob("results/*.json"))
