"""The results folder of `grade-all`: which submissions there are, what is already graded.

    DIR/results/<key>.json     one record per submission, written atomically: the
                               Gradescope results + per-test hints + a "submission" block
                               (name, file, content hash, grader version, time)
    DIR/grading-log.jsonl      one line appended per grading (an audit trail)

A submission is every sub-folder or .zip of the submissions folder. Its key is its entry's
own name (`dave`, `dave.zip`, `dave.zip.zip`): unique in the folder, and it never
changes, whatever else the folder holds, so two submissions never share a record. Its
name, shown in the gradebook, is the key without ".zip" where no other entry claims that
name, else the key. Its content hash covers what the grader reads of it (the graded
files, submission.content_hash), so a changed submission is graded again and an
unchanged one never is, however its environment or data change. Nothing here runs
student code.
"""
import collections
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.intake import submission as intake

GRADER_PARTS = ("autograder", "solutions")  # what a grade depends on, besides the secret
NOT_GRADING = {"autograder/classroom/grade_all.py", "autograder/classroom/store.py",
               "autograder/classroom/report.py", "autograder/classroom/pages.py",
               "autograder/classroom/dask_grading.py", "autograder/integrations/gradescope.py",
               "autograder/intake/pack.py", "autograder/classroom/dask_start.py",
               "autograder/classroom/dask_scheduler.py", "autograder/classroom/dask_worker.py",
               "autograder/config_command.py", "autograder/judging/selfcheck.py",
               "autograder/cli.py", "autograder/grade_command.py"}


@dataclass(frozen=True)
class Submission:
    name: str  # shown in the gradebook
    path: Path

    @property
    def key(self) -> str:
        """Its record's name: the folder's or the file's own name."""
        return self.path.name


def discover(folder: Path) -> tuple[list[Submission], list[str]]:
    """(submissions sorted by name, names of the entries that are not submissions)."""
    paths, ignored = {}, []
    for path in sorted(Path(folder).iterdir()):
        if path.name.startswith(".") or path.name == "__MACOSX":
            continue
        if path.is_dir() or (path.is_file() and path.suffix.lower() == ".zip"):
            paths[path.name] = path
        else:
            ignored.append(path.name)
    names = unique_names({key: key[:-4] if paths[key].is_file() else key for key in paths})
    return sorted((Submission(names[k], p) for k, p in paths.items()),
                  key=lambda s: s.name), ignored


def unique_names(wanted: dict[str, str]) -> dict[str, str]:
    """{key: name}: the wanted name where no other key wants it (or is called it), else
    the key itself (keys are unique, so the result is)."""
    names = dict(wanted)
    while True:
        counts = collections.Counter(names.values())
        clashes = {key for key, name in names.items() if counts[name] > 1 and name != key}
        if not clashes:
            return names
        for key in clashes:
            names[key] = key


def in_shard(name: str, shard: tuple[int, int]) -> bool:
    """Stable: a name's shard depends on the name only (not on the machine or order)."""
    index, count = shard
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % count == index


def content_hash(path: Path) -> str:
    return intake.content_hash(path)


def _py_files(folder: Path):
    for parent, dirs, files in os.walk(folder):  # symbolic links are not followed
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            file = Path(parent) / name
            if file.suffix == ".py" and file.is_file() and not file.is_symlink():
                yield file


def settings_fingerprint(config) -> str:
    """The instructor's settings that change a grade (autograder/settings.py), as text."""
    from autograder.settings import SETTINGS

    fields = sorted({s.field for s in SETTINGS} - {"batch_jobs"})
    return repr([(f, getattr(config, f)) for f in fields] + [("points", config.points)])


def grader_version(config) -> str:
    """Short hash of the grading code, the reference, the secret and the instructor's
    settings (the time limits among them)."""
    from autograder.secret import load_secret

    digest = hashlib.sha256(load_secret())
    digest.update(settings_fingerprint(config).encode())  # time limits included
    for part in GRADER_PARTS:
        for file in sorted(_py_files(config.root / part)):
            relative = file.relative_to(config.root).as_posix()
            if relative not in NOT_GRADING and "release" not in file.parts[-2:-1]:
                digest.update(relative.encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


# ---- records ---------------------------------------------------------------------------

def make_record(sub: Submission, sha: str, grader: str, result, error: str = "") -> dict:
    """The Gradescope results of one submission, with its hints and where it came from."""
    record = result.to_gradescope()
    for test, entry in zip(result.tests, record["tests"]):
        entry["hints"] = [str(hint) for hint in test.hints]
        entry["status"] = test.status  # passed / failed / error / timeout, for the report
        # the test's identity and the verdict's structure, for the report (it never
        # parses a test's name or feedback)
        entry.update(function=test.function, check=test.check, case=test.case,
                     wrong=dict(test.wrong), blame=test.blame, cause=test.cause,
                     error=dict(test.error))
    record["max_score"] = result.max_score
    record["submission"] = {"name": sub.name, "file": sub.path.name, "content_sha256": sha,
                            "grader_version": grader,
                            "grader_error": error or getattr(result, "grader_error", ""),
                            "unreadable": result.unreadable,
                            "graded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return record


def error_record(sub: Submission, sha: str, grader: str, error: str) -> dict:
    """Every test at 0 (status error) when the grader itself failed on a submission."""
    from autograder.judging.checks import CHECKS, case_points, identity_of
    from autograder.judging.results import GradingResult, TestResult

    message = ("Not graded: the grader itself failed on this submission (not a verdict "
               "on the code). Your instructor has been told.")
    tests = [TestResult(identity_of(check, case), 0.0, points, message, "error",
                        cause="internal")
             for check in CHECKS for case, points in zip(check.cases, case_points(check))]
    return make_record(sub, sha, grader, GradingResult(tests, 0.0, message), error)


def record_path(out: Path, key: str) -> Path:
    return Path(out) / "results" / f"{key}.json"


def load_record(path: Path) -> dict | None:
    """A complete record, or None (missing, truncated, not one of ours, or not the record
    of the key its file is named after: a record of an older layout)."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        info = record["submission"]
        if (isinstance(record["tests"], list) and isinstance(info["content_sha256"], str)
                and f"{info['file']}.json" == Path(path).name):
            return record
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def load_records_by_key(out: Path) -> dict[str, dict]:
    """Every complete record of a results folder, by submission key."""
    records = {}
    for path in sorted((Path(out) / "results").glob("*.json")):
        if not path.name.startswith(".") and (record := load_record(path)):
            records[record["submission"]["file"]] = record
    return records


def load_records(out: Path) -> dict[str, dict]:
    """Every complete record of a results folder, by submission name (made unique, and
    written into the record, where two records were graded under the same name)."""
    return by_name(load_records_by_key(out))


def by_name(records: dict[str, dict], names: dict[str, str] | None = None) -> dict[str, dict]:
    """{name: record} for {key: record}: names given, else the names the records hold
    (made unique)."""
    names = names or unique_names({k: r["submission"]["name"] for k, r in records.items()})
    for key, record in records.items():
        record["submission"]["name"] = names[key]
    return {names[key]: record for key, record in records.items()}


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
    line = json.dumps({"name": info["name"], "file": info["file"], "content_sha256": info["content_sha256"],
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
        for key, record in load_records_by_key(source).items():
            if key in chosen:
                previous = chosen[key][1]["submission"]
                if previous["content_sha256"] != record["submission"]["content_sha256"]:
                    notes.append(f"{key}: graded in two folders with different contents; "
                                 "kept the later grading")
                if previous["graded_at"] > record["submission"]["graded_at"]:
                    continue
            chosen[key] = (source, record)
    for key, (source, record) in chosen.items():
        if source.resolve() != Path(out).resolve():
            write_json_atomic(record_path(out, key), record)
    return notes
