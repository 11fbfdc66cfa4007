"""Turn what a student handed in (a folder or a .zip) into a clean folder to grade.

Only the top-level .py files of the folder that holds the required files are copied into a
fresh directory (regular files, size-capped); zips are unpacked defensively, entry by
entry: an entry the filesystem refuses (a file and a folder of the same name, a name
too long, an absolute path, "..", a symlink) is skipped with a note, and the archive is
refused only when it cannot be read at all or unpacks to too much. Nothing from the
submission is executed here.

The fingerprint (which seeds the hidden cases) hashes every file of the submission
after unpacking, its relative path and its bytes, so that any change to it, an extra
file included, draws other cases.
"""
import hashlib
import os
import re
import zipfile
from pathlib import Path

from autograder import inert

REQUIRED = ("rnn_layers.py", "rnn_classifier.py")
MAX_FILE_BYTES = 2 << 20  # one .py file copied for grading
MAX_UNZIPPED_BYTES = 64 << 20  # a zip, unpacked; also what the fingerprint reads in full
MAX_ZIP_ENTRIES = 2000  # entries of a zip, files of a folder looked at
MAX_NAME_BYTES = 255  # one component of a path (the usual filesystem limit)
MAX_DEPTH = 8  # folders below the submission's root that are looked at
MAX_NOTES = 8  # notes about skipped entries, then a count


class SubmissionError(Exception):
    """The submission cannot be read at all."""


def prepare(source: Path, workdir: Path) -> tuple[Path, str, list[str]]:
    """(folder to grade, content fingerprint, notes for the student)."""
    source = Path(source)
    notes: list[str] = []
    if source.is_file():
        root = _unzip(source, Path(workdir) / "unzipped", notes)
    elif source.is_dir():
        root = source
    else:
        raise SubmissionError(f"{inert.line(source.name)} is neither a folder nor a .zip file")
    files = _walk(root, notes)
    folder = _locate(root, files, notes)
    target = Path(workdir) / "student"
    target.mkdir(parents=True)
    copied = _copy_modules(folder, target, notes)
    for name in REQUIRED:
        if name not in copied:
            notes.append(f"{name} is missing from the submission: its tests score 0.")
    notebooks = sorted(inert.line(p.name) for p in folder.glob("*.ipynb"))
    if notebooks and not any(name in copied for name in REQUIRED):
        notes.append(f"Only {', '.join(notebooks)} was found: the grader runs the .py files. "
                     f"Submit {' and '.join(REQUIRED)} (your work lives there) with it.")
    return target, _fingerprint(root, files, copied), _capped(notes)


def _walk(root: Path, notes: list[str]) -> list[str]:
    """Relative paths of the regular files and symlinks under root, sorted, without
    following links; at most MAX_ZIP_ENTRIES, at most MAX_DEPTH folders deep."""
    found = []
    for folder, dirs, names in os.walk(root, onerror=lambda exc: None):
        rel = os.path.relpath(folder, root)
        depth = 0 if rel == "." else rel.count(os.sep) + 1
        dirs[:] = sorted(d for d in dirs if depth < MAX_DEPTH)
        for name in sorted(names):
            found.append(name if rel == "." else os.path.join(rel, name))
            if len(found) >= MAX_ZIP_ENTRIES:
                notes.append(f"The submission holds more than {MAX_ZIP_ENTRIES} files: only "
                             "the first were looked at.")
                return sorted(found)
    return sorted(found)


def _locate(root: Path, files: list[str], notes: list[str]) -> Path:
    """The folder holding the most of the required files (names compared without case),
    the shallowest of those (macOS __MACOSX junk ignored)."""
    found: dict[Path, int] = {}
    for rel in files:
        parts = Path(rel).parts
        path = root / rel
        if (parts[-1].lower() in REQUIRED and "__MACOSX" not in parts and len(parts) <= 4
                and path.is_file() and not path.is_symlink()):
            found[path.parent] = found.get(path.parent, 0) + 1
    if not found:
        return root
    folder = min(found, key=lambda p: (-found[p], len(p.parts), str(p)))
    if folder != root:
        notes.append(f"Graded the files in {inert.line(folder.relative_to(root))}/")
    for path in sorted(folder.iterdir()):
        if path.name.lower() in REQUIRED and path.name not in REQUIRED:
            notes.append(f"{inert.line(path.name)} should be named {path.name.lower()}: "
                         "graded anyway")
    return folder


def _copy_modules(folder: Path, target: Path, notes: list[str]) -> dict[str, bytes]:
    """The top-level .py files of folder into target: {name in target: bytes}."""
    copied: dict[str, bytes] = {}
    total = 0
    for path in sorted(folder.iterdir()):
        required = path.name.lower() in REQUIRED  # RNN_Layers.PY counts, as _locate says
        if (path.suffix != ".py" and not required) or path.is_symlink() or not path.is_file():
            continue
        name = path.name.lower() if required else path.name
        size = path.stat().st_size
        if size > MAX_FILE_BYTES or total + size > MAX_UNZIPPED_BYTES:
            notes.append(f"{inert.line(path.name)} is larger than {MAX_FILE_BYTES >> 20} MB "
                         "(or the files are too large in all): ignored")
            continue
        try:
            data = path.read_bytes()
            (target / name).write_bytes(data)
        except (OSError, ValueError) as exc:
            notes.append(f"{inert.line(path.name)} could not be copied "
                         f"({inert.line(exc.strerror or exc, 80)}): ignored")
            continue
        copied[name] = data
        total += len(data)
    return copied


def _fingerprint(root: Path, files: list[str], copied: dict[str, bytes]) -> str:
    """sha256 of the files graded (names, bytes) and of every file of the submission
    (relative path, size, bytes while under MAX_UNZIPPED_BYTES; a symlink's target)."""
    digest = hashlib.sha256()
    for name in sorted(copied):
        digest.update(b"graded\0" + os.fsencode(name) + b"\0" + copied[name] + b"\0")
    budget = MAX_UNZIPPED_BYTES
    for rel in files:
        path = root / rel
        digest.update(b"file\0" + os.fsencode(rel) + b"\0")
        try:
            if path.is_symlink():
                digest.update(b"->" + os.fsencode(os.readlink(path)))
            elif path.is_file():
                size = path.stat().st_size
                digest.update(str(size).encode() + b"\0")
                if size <= budget:
                    digest.update(path.read_bytes())
                    budget -= size
        except OSError:
            digest.update(b"unreadable")
    return digest.hexdigest()


def _unzip(archive: Path, target: Path, notes: list[str]) -> Path:
    shown = inert.line(archive.name)
    if not zipfile.is_zipfile(archive):
        raise SubmissionError(f"{shown} is not a folder or a readable .zip file")
    target.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            entries = zf.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                raise SubmissionError(f"{shown} holds {len(entries)} files; at most "
                                      f"{MAX_ZIP_ENTRIES} are accepted")
            total, seen = 0, set()
            for entry in entries:
                total = _extract(zf, entry, target, total, seen, notes, shown)
    except UnicodeDecodeError:
        raise SubmissionError(f"{shown} has file names that are not valid UTF-8: make the "
                              "zip again (or submit the folder)") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise SubmissionError(f"{shown} is not a readable .zip file "
                              f"({inert.line(exc, 120)})") from None
    return target


def _extract(zf, entry, target: Path, total: int, seen: set, notes: list, shown: str) -> int:
    """Unpack one entry (or skip it with a note); returns the bytes unpacked so far."""
    name = inert.line(entry.filename, 120)
    parts = [p for p in re.split(r"[/\\]", entry.filename) if p not in ("", ".")]
    is_link = (entry.external_attr >> 16) & 0o170000 == 0o120000
    if entry.is_dir() or not parts:
        return total
    why = ("it is a symbolic link" if is_link
           else "its path leaves the submission's folder" if ".." in parts
           or entry.filename.startswith(("/", "\\")) or re.fullmatch("[A-Za-z]:", parts[0])
           else "its name is too long" if any(len(os.fsencode(p)) > MAX_NAME_BYTES for p in parts)
           else "it is too deep in folders" if len(parts) > MAX_DEPTH + 1 else "")
    if why:
        notes.append(f"Skipped {name} in {shown}: {why}.")
        return total
    key = "/".join(parts)
    if key in seen:
        notes.append(f"{shown} holds {name} twice: the last copy was used.")
    seen.add(key)
    destination = target.joinpath(*parts)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(entry) as src, open(destination, "wb") as dst:
            while chunk := src.read(1 << 20):  # count real bytes: sizes in a zip can lie
                total += len(chunk)
                if total > MAX_UNZIPPED_BYTES:
                    raise SubmissionError(f"{shown} unpacks to more than "
                                          f"{MAX_UNZIPPED_BYTES >> 20} MB")
                dst.write(chunk)
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        notes.append(f"Skipped {name} in {shown}: a file and a folder have the same name.")
    except (OSError, ValueError, NotImplementedError, RuntimeError,
            zipfile.BadZipFile, EOFError) as exc:
        if destination.is_file() and not destination.is_symlink():
            destination.unlink()  # no half-written file
        notes.append(f"Skipped {name} in {shown}: it cannot be unpacked "
                     f"({inert.line(getattr(exc, 'strerror', None) or exc, 80)}).")
    return total


def _capped(notes: list[str]) -> list[str]:
    """At most MAX_NOTES notes about skipped entries (then how many more)."""
    skipped = [n for n in notes if n.startswith("Skipped ") or " twice: " in n]
    if len(skipped) <= MAX_NOTES:
        return notes
    extra = set(skipped[MAX_NOTES:])
    kept = [n for n in notes if n not in extra]
    return kept + [f"... and {len(extra)} more entries skipped."]
