"""The results folder of `grade-all`: which submissions there are, what is already graded.

    DIR/results/<name>.json    one record per submission, written atomically: the
                               Gradescope results + per-test hints + a "submission" block
                               (name, file, content hash, grader version, time)
    DIR/grading-log.jsonl      one line appended per grading (an audit trail)

A submission is every sub-folder or .zip of the submissions folder; its name is the
folder or file name without .zip. Its content hash covers what the grader can read (the
.py files, or the zip's bytes), so a changed submission is graded again and an unchanged
one never is. Nothing here runs student code.
"""
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

HASHED_FILE_BYTES = 2 << 20  # larger .py files are ignored by the grader: hash their size
GRADER_PARTS = ("autograder", "solutions")  # what a grade depends on, besides the secret
NOT_GRADING = {"batch.py", "batch_store.py", "batch_report.py", "batch_pages.py",
               "batch_dask.py", "gradescope.py",
               "selfcheck.py", "cli.py", "grade_command.py"}


@dataclass(frozen=True)
class Submission:
    name: str
    path: Path


def discover(folder: Path) -> tuple[list[Submission], list[str]]:
    """(submissions sorted by name, names of the entries that are not submissions)."""
    found, ignored = {}, []
    for path in sorted(Path(folder).iterdir()):
        if path.name.startswith(".") or path.name == "__MACOSX":
            continue
        if path.is_dir():
            found.setdefault(path.name, []).append(path)
        elif path.is_file() and path.suffix.lower() == ".zip":
            found.setdefault(path.name[:-4], []).append(path)
        else:
            ignored.append(path.name)
    submissions = []
    for name, paths in found.items():
        if len(paths) == 1:
            submissions.append(Submission(name, paths[0]))
        else:  # alice/ and alice.zip: keep both, told apart by their full names
            submissions.extend(Submission(p.name, p) for p in paths)
    return sorted(submissions, key=lambda s: s.name), ignored


def in_shard(name: str, shard: tuple[int, int]) -> bool:
    """Stable: a name's shard depends on the name only (not on the machine or order)."""
    index, count = shard
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % count == index


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    path = Path(path)
    if path.is_file():
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()
    for file in sorted(_py_files(path)):
        relative = file.relative_to(path).as_posix().encode()
        size = file.stat().st_size
        digest.update(relative + b"\0" + str(size).encode() + b"\0")
        if size <= HASHED_FILE_BYTES:
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _py_files(folder: Path):
    for parent, dirs, files in os.walk(folder):  # symbolic links are not followed
        dirs[:] = [d for d in dirs if d != "__MACOSX"]
        for name in files:
            file = Path(parent) / name
            if file.suffix == ".py" and file.is_file() and not file.is_symlink():
                yield file


def grader_version(config) -> str:
    """Short hash of the grading code, the reference, the secret and the time limits."""
    from autograder.secret import load_secret

    digest = hashlib.sha256(load_secret())
    digest.update(f"{config.timeout_scale}|{config.time_budget}".encode())
    for part in GRADER_PARTS:
        for file in sorted(_py_files(config.root / part)):
            if file.name not in NOT_GRADING and "release" not in file.parts[-2:-1]:
                digest.update(file.relative_to(config.root).as_posix().encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


# ---- records ---------------------------------------------------------------------------

def make_record(sub: Submission, sha: str, grader: str, result, error: str = "") -> dict:
    """The Gradescope results of one submission, with its hints and where it came from."""
    record = result.to_gradescope()
    for test, entry in zip(result.tests, record["tests"]):
        entry["hints"] = list(test.hints)
        entry["status"] = test.status  # passed / failed / error / timeout, for the report
        # the verdict's structure, for the report (it never parses the feedback text)
        entry.update(case=test.case, wrong=dict(test.wrong), blame=test.blame,
                     cause=test.cause, error=dict(test.error))
    record["max_score"] = result.max_score
    record["submission"] = {"name": sub.name, "file": sub.path.name, "content_sha256": sha,
                            "grader_version": grader,
                            "grader_error": error or getattr(result, "grader_error", ""),
                            "graded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return record


def error_record(sub: Submission, sha: str, grader: str, error: str) -> dict:
    """Every test at 0 (status error) when the grader itself failed on a submission."""
    from autograder.checks import CHECKS, case_points, full_name
    from autograder.results import GradingResult, TestResult

    message = ("Not graded: the grader itself failed on this submission (not a verdict "
               "on the code). Your instructor has been told.")
    tests = [TestResult(full_name(check, case), 0.0, points, message,
                        "error", case=case.label, cause="internal")
             for check in CHECKS for case, points in zip(check.cases, case_points(check))]
    return make_record(sub, sha, grader, GradingResult(tests, 0.0, message), error)


def record_path(out: Path, name: str) -> Path:
    return Path(out) / "results" / f"{name}.json"


def load_record(path: Path) -> dict | None:
    """A complete record, or None (missing, truncated, or not one of ours)."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        info = record["submission"]
        if isinstance(record["tests"], list) and isinstance(info["content_sha256"], str):
            return record
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def load_records(out: Path) -> dict[str, dict]:
    """Every complete record of a results folder, by submission name."""
    records = {}
    for path in sorted((Path(out) / "results").glob("*.json")):
        if not path.name.startswith(".") and (record := load_record(path)):
            records[record["submission"]["name"]] = record
    return records


def write_json_atomic(path: Path, data) -> None:
    """Write, flush to disk, then rename: a reader (or a re-run after SIGKILL) sees either
    the old file or the whole new one, never a part."""
    text = json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    write_text_atomic(path, text)


def write_text_atomic(path: Path, text: str | bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(text.encode("utf-8") if isinstance(text, str) else text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def clean_temporaries(out: Path) -> int:
    """Remove what a killed run left half-written (never a complete record)."""
    removed = 0
    for folder in (Path(out), Path(out) / "results"):
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def append_log(out: Path, record: dict) -> None:
    info = record["submission"]
    line = json.dumps({"name": info["name"], "content_sha256": info["content_sha256"],
                       "score": record["score"], "graded_at": info["graded_at"],
                       "grader_error": info["grader_error"]}, ensure_ascii=False) + "\n"
    fd = os.open(Path(out) / "grading-log.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))  # one write of one line: lines never interleave
    finally:
        os.close(fd)


def merge(sources: list[Path], out: Path) -> list[str]:
    """Copy the records of several results folders into out/results; where two folders
    graded the same submission, keep the later grading. Returns notes for the summary."""
    chosen, notes = {}, []
    for source in [Path(out)] + [Path(s) for s in sources]:
        for name, record in load_records(source).items():
            if name in chosen:
                previous = chosen[name][1]["submission"]
                if previous["content_sha256"] != record["submission"]["content_sha256"]:
                    notes.append(f"{name}: graded in two folders with different contents; "
                                 "kept the later grading")
                if previous["graded_at"] > record["submission"]["graded_at"]:
                    continue
            chosen[name] = (source, record)
    for name, (source, record) in chosen.items():
        if source.resolve() != Path(out).resolve():
            write_json_atomic(record_path(out, name), record)
    return notes
