"""grade-all: a class folder graded in parallel into results, a gradebook and a report;
resumable after SIGKILL; sharded runs merged equal one full run."""
import csv
import dataclasses
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tqdm import tqdm

from autograder.classroom import grade_all as batch, store as batch_store
from autograder.config import DEFAULT
from conftest import ROOT, SOLUTIONS, fresh_shell

FAST = ["--timeout-scale", "0.25"]  # the hanging submission costs 2.5 s per stuck case


def _copy(folder: Path, old: str = "", new: str = "", comment: str = "") -> Path:
    shutil.copytree(SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    layers = folder / "rnn_layers.py"
    text = layers.read_text()
    if old:
        assert text.count(old) == 1
        text = text.replace(old, new)
    layers.write_text(text + (f"\n# {comment}\n" if comment else ""))
    return folder


def _grade_all(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "grade-all", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, check=check, timeout=120)


def _rows(out: Path, file: str = "grades.csv") -> list[dict]:
    with open(out / file, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    """good, buggy, a zip, an unreadable zip, a hanging one, and a stray file."""
    folder = tmp_path_factory.mktemp("class")
    _copy(folder / "good")
    _copy(folder / "buggy", "np.add.at(dW, x, dout)", "dW[x] += dout")
    zipped = _copy(tmp_path_factory.mktemp("z") / "my work", comment="zipped")
    shutil.make_archive(str(folder / "zipped"), "zip", zipped.parent, zipped.name)
    (folder / "broken.zip").write_bytes(b"this is not a zip file")
    _copy(folder / "hang", "    out = W[x]",  # loops forever on a single word
          "    while x.size == 1:\n        pass\n    out = W[x]")
    (folder / "notes.txt").write_text("not a submission")
    return folder


@pytest.fixture(scope="module")
def full_run(klass, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full")
    _grade_all(klass, "--output", out, "--jobs", 2, *FAST)
    return out


NAMES = {"good", "buggy", "zipped", "broken", "hang"}
KEYS = {"good", "buggy", "zipped.zip", "broken.zip", "hang"}  # results/<key>.json


def _functions(tests: list[dict]) -> dict[str, list[str]]:
    """Function -> its test names, for the functions worth points (the contract: every
    test name begins with the function it grades, before ':')."""
    functions: dict[str, list[str]] = {}
    for test in tests:
        functions.setdefault(test["name"].split(":")[0], []).append(test)
    return {f: [t["name"] for t in own] for f, own in functions.items()
            if sum(t["max_score"] for t in own) > 0}


def test_every_submission_gets_a_results_file_and_a_gradebook_row(full_run):
    assert {p.stem for p in (full_run / "results").glob("*.json")} == KEYS
    rows = {row["submission"]: row for row in _rows(full_run)}
    per_test = {row["submission"]: row for row in _rows(full_run, "grades_tests.csv")}
    assert set(rows) == set(per_test) == NAMES
    record = json.loads((full_run / "results" / "good.json").read_text())
    tests, functions = [t["name"] for t in record["tests"]], _functions(record["tests"])
    head = ["submission", "total", "max_score", "flags"]
    assert _header(full_run / "grades.csv") == head + list(functions)
    assert _header(full_run / "grades_tests.csv") == head + tests
    for name, row in rows.items():  # the total is the sum of the function columns, each
        assert abs(sum(float(row[f]) for f in functions) - float(row["total"])) < 0.01, name
        for function, own in functions.items():  # the sum of its test columns
            assert abs(sum(float(per_test[name][t]) for t in own) - float(row[function])) \
                < 1e-3, (name, function)
        assert {k: per_test[name][k] for k in head} == {k: row[k] for k in head}
    assert rows["good"]["total"] == rows["zipped"]["total"] == "100"
    assert float(rows["good"]["RNNClassifier.loss"]) == pytest.approx(sum(
        t["max_score"] for t in record["tests"] if t["name"].startswith("RNNClassifier.loss:")))
    assert 0 < float(rows["buggy"]["total"]) < 100 and rows["buggy"]["flags"] == ""
    assert float(rows["buggy"]["word_embedding_backward"]) == 0  # the function with the bug
    assert rows["broken"]["total"] == "0" and rows["broken"]["flags"] == "unreadable"
    assert float(rows["hang"]["total"]) < 100 and rows["hang"]["flags"] == "timeout"


def _header(path: Path) -> list[str]:
    with open(path, newline="") as f:
        return next(csv.reader(f))


def test_summary_and_report_tell_the_instructor_what_happened(full_run):
    summary = (full_run / "summary.txt").read_text()
    assert "5 submissions" in summary and "Pass rate per function" in summary
    assert "np.add.at" in summary  # the hint the buggy submission earned
    assert "hang: hit a time limit in word_embedding_forward" in summary
    assert "broken: could not be read: broken.zip is not" in summary
    assert "notes.txt" in summary  # ignored, and said so
    assert (full_run / "histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (full_run / "report.html").read_text()
    assert "data:image/png;base64," in page and "np.add.at" in page and "hang" in page
    assert {p.name for p in (full_run / "feedback").iterdir()} == {f"{n}.html" for n in NAMES}


def readme_shard_commands() -> tuple[str, str]:
    """(the command a Slurm array task runs, the merge line) of the README's "Beyond one
    machine" section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Beyond one machine\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    lines = [line.strip() for block in re.findall(r"```\n(.*?)```", section.group(1), re.S)
             for line in block.splitlines()]
    sbatch = next(line for line in lines if line.startswith("sbatch "))
    array = re.search(r'--wrap "(.*)"$', sbatch)[1].replace("\\$", "$")
    merge = next(line for line in lines if " --merge " in line)
    return array, merge


def _shell(line: str, **env: str) -> None:
    done = subprocess.run(line, shell=True, cwd=ROOT, env=fresh_shell("SLURM_", **env),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{line}\n{done.stderr[-3000:]}"


def test_shards_merged_equal_one_full_run(klass, full_run, tmp_path):
    """The README's Slurm array command as its two tasks would run it (in the project's
    folder, with the variables Slurm sets for --array=0-1; FAST appended for the hanging
    submission), then its merge line; temporary folders for the placeholders."""
    array, merge = readme_shard_commands()
    assert array.startswith(".venv/bin/python -m autograder grade-all SUBMISSIONS --output shard")
    array = array.replace("SUBMISSIONS", str(klass)).replace("--output shard",
                                                             f"--output {tmp_path}/shard")
    for task in (0, 1):
        _shell(" ".join([array, *FAST]), SLURM_ARRAY_TASK_ID=str(task),
               SLURM_ARRAY_TASK_MIN="0", SLURM_ARRAY_TASK_MAX="1", SLURM_ARRAY_TASK_COUNT="2")
    shards = [tmp_path / "shard0", tmp_path / "shard1"]
    graded = [{p.stem for p in (out / "results").glob("*.json")} for out in shards]
    assert graded[0] and graded[1] and not graded[0] & graded[1]
    assert graded[0] | graded[1] == KEYS
    merged = tmp_path / "merged"
    assert " shard0/ shard1/ ... --output class/" in merge
    _shell(merge.replace(" shard0/ shard1/ ...", f" {shards[0]}/ {shards[1]}/")
           .replace("--output class/", f"--output {merged}/"))
    for file in ("grades.csv", "grades_tests.csv"):
        assert (merged / file).read_text() == (full_run / file).read_text()
    assert (merged / "report.html").exists()


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.add(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except OSError:
        return False


def _log(out: Path) -> list[str]:
    path = out / "grading-log.jsonl"
    return [json.loads(line)["name"] for line in path.read_text().splitlines()] \
        if path.exists() else []


def test_sigkill_then_rerun_grades_each_submission_exactly_once(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    for i in range(10):
        _copy(subs / f"s{i}", comment=f"student {i}")
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade-all", str(subs),
                             "--output", str(out), "--jobs", "1"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list((out / "results").glob("*.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers and not any(map(_alive, workers)), "workers outlived their parent"
    done = {p.stem: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    assert 3 <= len(done) < 10, "the run was not killed half-way"
    first_log = _log(out)

    _grade_all(subs, "--output", out, "--jobs", 2)
    after = {p.stem: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    assert set(after) == {f"s{i}" for i in range(10)}
    assert all(after[name] == mtime for name, mtime in done.items())  # not graded again
    second = _log(out)[len(first_log):]
    assert sorted(second) == sorted(set(after) - set(done))  # the rest, each once
    rows = [row["submission"] for row in _rows(out)]
    assert sorted(rows) == sorted(after) and len(set(rows)) == 10
    assert not list(out.rglob("*.tmp"))

    # A changed submission is graded again, a truncated results file too; nothing else.
    _copy(subs / "s3_new", comment="resubmitted")
    shutil.rmtree(subs / "s3")
    (subs / "s3_new").rename(subs / "s3")
    (out / "results" / "s7.json").write_text('{"score": 10')
    _grade_all(subs, "--output", out, "--jobs", 2)
    assert sorted(_log(out)[len(first_log) + len(second):]) == ["s3", "s7"]
    final = {p.stem: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    assert all(final[n] == after[n] for n in after if n not in ("s3", "s7"))
    assert json.loads((out / "results" / "s7.json").read_text())["score"] == 100


def _zip_of(folder: Path, archive: Path) -> Path:
    made = shutil.make_archive(str(folder), "zip", folder)  # folder.zip, beside folder
    archive.parent.mkdir(parents=True, exist_ok=True)
    return Path(made).rename(archive)


def _files_logged(out: Path) -> list[str]:
    path = out / "grading-log.jsonl"
    return [json.loads(line)["file"] for line in path.read_text().splitlines()]


def test_one_record_per_submission_whatever_the_names_and_no_regrading_when_unchanged(
        tmp_path):
    """dave/, dave.zip and dave.zip.zip: three rows, three records (issue 19); a re-run
    grades nothing; erin/ added next to a graded erin.zip grades erin/ only."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    _copy(subs / "dave")
    _zip_of(_copy(tmp_path / "buggy", "np.add.at(dW, x, dout)", "dW[x] += dout"),
            subs / "dave.zip")
    _zip_of(_copy(tmp_path / "again", comment="zipped twice"), subs / "dave.zip.zip")
    _grade_all(subs, "--output", out, "--jobs", 2)
    totals = {row["submission"]: float(row["total"]) for row in _rows(out)}
    assert totals.keys() == {"dave", "dave.zip", "dave.zip.zip"}
    assert totals["dave"] == totals["dave.zip.zip"] == 100 > totals["dave.zip"]
    records = {p.name: json.loads(p.read_text()) for p in (out / "results").glob("*.json")}
    assert {n: r["submission"]["file"] for n, r in records.items()} == {
        "dave.json": "dave", "dave.zip.json": "dave.zip", "dave.zip.zip.json": "dave.zip.zip"}
    assert sorted(_files_logged(out)) == ["dave", "dave.zip", "dave.zip.zip"]

    _grade_all(subs, "--output", out, "--jobs", 2)
    assert len(_files_logged(out)) == 3  # nothing graded again

    _zip_of(_copy(tmp_path / "erin"), subs / "erin.zip")
    _grade_all(subs, "--output", out, "--jobs", 2)
    assert _files_logged(out)[3:] == ["erin.zip"]
    _copy(subs / "erin", comment="erin's folder")
    _grade_all(subs, "--output", out, "--jobs", 2)
    assert _files_logged(out)[4:] == ["erin"]  # erin.zip keeps its record
    assert {row["submission"] for row in _rows(out)} == {
        "dave", "dave.zip", "dave.zip.zip", "erin", "erin.zip"}


def test_submission_names_are_unique_and_keys_never_change():
    wanted = {"dave": "dave", "dave.zip": "dave", "dave.zip.zip": "dave.zip", "erin.zip": "erin"}
    assert batch_store.unique_names(wanted) == {
        "dave": "dave", "dave.zip": "dave.zip", "dave.zip.zip": "dave.zip.zip",
        "erin.zip": "erin"}


def test_a_grader_failure_is_recorded_as_an_error_result(tmp_path):
    broken = dataclasses.replace(DEFAULT, solutions_dir=tmp_path / "no reference here")
    sub = batch_store.Submission("alice", _copy(tmp_path / "alice"))
    records = list(batch.grade_in_pool([(sub, "hash")], 1, broken, "v1"))
    assert len(records) == 1
    record = records[0]
    assert record["score"] == 0 and record["submission"]["grader_error"]
    assert len(record["tests"]) > 10 and all(t["status"] == "error" for t in record["tests"])


def test_shard_assignment_is_stable_and_covers_everyone():
    names = [f"student{i}" for i in range(200)]
    shards = [[n for n in names if batch_store.in_shard(n, (i, 3))] for i in range(3)]
    assert sorted(sum(shards, [])) == sorted(names) and all(len(s) > 40 for s in shards)
    assert shards == [[n for n in names if batch_store.in_shard(n, (i, 3))] for i in range(3)]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_tqdm_bar_on_a_terminal_and_one_line_elsewhere():
    terminal, log = _Terminal(), io.StringIO()
    for stream in (terminal, log):
        progress = batch.Progress(3, up_to_date=2, stream=stream)
        assert isinstance(progress.bar, tqdm)
        for name in ("a", "b", "c\x1b[2J"):
            progress.advance(name)
        progress.finish()
    assert "3/3" in terminal.getvalue() and "\x1b" not in terminal.getvalue()
    assert "100%|" in terminal.getvalue()  # tqdm's bar
    assert log.getvalue() == ("grade-all: graded 3/3 in " + log.getvalue().split(" in ")[1])
    assert log.getvalue().count("\n") == 1 and "already graded and unchanged" in log.getvalue()
