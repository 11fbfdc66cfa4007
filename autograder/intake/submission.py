"""What the grader reads of a submission (a folder or a .zip), and nothing else.

The grader reads the files it grades (GRADED; the kit's `pack` adds the notebook) and
ignores everything else: a virtual environment, caches, data, checkpoints are neither
unpacked nor copied nor hashed, whatever their size. Finding those files looks at names
only: a folder is listed breadth-first down to MAX_DEPTH (hidden folders, caches and
virtual environments by any name are not entered); a zip's table of contents is read as
a stream (zip_listing). Then, per file, the first of these that names exactly one file
is taken, in the folder holding the most of the required files: the exact name, the name
in other letter case, a near miss (`rnn_layers (1).py`, `rnn_layers-2.py`,
`RNN_Layers copy.py`), the same in another folder. Two candidates are never guessed
between: the student reads both names. Only what is taken is read, capped at
MAX_FILE_BYTES counted as it is decompressed (sizes in a zip can lie), into a fresh
folder under its proper name. Nothing from the submission is executed here.

The fingerprint (which seeds the hidden cases) hashes what is graded (where each file
came from, its bytes): the same work re-zipped draws the same cases, any change to a
graded file other ones.
"""
import collections
import hashlib
import io
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.intake import inert, zip_listing
from autograder.sandbox.child import functions

REQUIRED = tuple(f"{m}.py" for m in functions.MODULES)  # the graded modules (functions.py)
OPTIONAL = ("lstm_layers.py",)  # the LSTM extension's file: read when it is there
NOTEBOOK = "RNN.ipynb"  # read by `pack` (and by routes that grade the notebook)
GRADED = REQUIRED + OPTIONAL
MAX_FILE_BYTES = 2 << 20  # one file read (a .py file or the notebook of `pack`)
MAX_NOTEBOOK_BYTES = 64 << 20  # a notebook with its figures
MAX_DEPTH = 4  # path components of a file looked at: a/b/c/rnn_layers.py
MAX_LOOKED_AT = 20_000  # entries of a folder looked at while searching (breadth-first)
MAX_SHOWN = 12  # names listed in a message
MAX_NOTES = 8  # notes about skipped entries, then a count
SKIPPED_FOLDERS = {"__pycache__", "__MACOSX", "site-packages", "dist-packages",
                   "node_modules"}  # and every hidden folder (.venv, .git, .ipynb_checkpoints)
ENVIRONMENT_MARKS = {"pyvenv.cfg", "conda-meta"}  # a folder holding one is an environment


class SubmissionError(Exception):
    """The submission cannot be read at all."""


@dataclass(frozen=True)
class Item:
    """One file of the submission, as listed (nothing read yet)."""
    parts: tuple[str, ...]  # relative path
    link: bool
    where: object  # the Path of a folder's file, the zip_listing.Entry of a zip's

    @property
    def name(self) -> str:
        return self.parts[-1]

    @property
    def rel(self) -> str:
        return "/".join(self.parts)


@dataclass
class Selection:
    """Which file is read for which name, and what the student should hear about it."""
    source: Path
    files: dict[str, Item] = field(default_factory=dict)  # proper name -> the file taken
    folder: tuple[str, ...] = ()  # where the required files were found
    items: list[Item] = field(default_factory=list)  # every file looked at
    notes: list[str] = field(default_factory=list)
    # the notes that say a required file is not in the submission at all (it could not
    # be read as a submission: the instructor's report flags it)
    unreadable: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # the notes on entries held twice


@dataclass(frozen=True)
class Intake:
    """A submission made ready for grading."""
    folder: Path  # the graded files, under their proper names
    fingerprint: str  # of their contents (seeds the hidden cases)
    notes: list[str]  # for the student
    unreadable: tuple[str, ...] = ()  # Selection.unreadable


def prepare(source: Path, workdir: Path) -> tuple[Path, str, list[str]]:
    """(folder to grade, content fingerprint, notes for the student): see intake()."""
    taken = intake(source, workdir)
    return taken.folder, taken.fingerprint, taken.notes


def intake(source: Path, workdir: Path) -> Intake:
    """The graded files of source, under their proper names, in workdir/student."""
    chosen = select(source, GRADED)
    contents = read_all(chosen)
    target = Path(workdir) / "student"
    target.mkdir(parents=True)
    for name, data in contents.items():
        (target / name).write_bytes(data)
    if not any(name in contents for name in REQUIRED):
        notebooks = sorted({inert.line(i.name) for i in chosen.items
                            if i.name.lower().endswith(".ipynb")})
        if notebooks:
            chosen.notes.append(f"Only {', '.join(notebooks)} was found: the grader runs "
                                f"the .py files. Submit {' and '.join(REQUIRED)} (your "
                                "work lives there) with it.")
    chosen.notes += unread_imports(chosen, contents)
    return Intake(target, fingerprint(chosen, contents), capped(chosen.notes, chosen.skipped),
                  tuple(chosen.unreadable))


_IMPORT = re.compile(rb"^[ \t]*(?:from[ \t]+(\w+)[ \t.]|import[ \t]+(\w+))", re.M)


def unread_imports(chosen: Selection, contents: dict[str, bytes]) -> list[str]:
    """A note per graded file that imports a module of the submission the grader does not
    read (`from gradient_check import rel_error`, a helper of the student's own)."""
    beside = {i.name[:-3] for i in chosen.items
              if i.parts[:-1] == chosen.folder and i.name.endswith(".py")}
    notes = []
    for name, data in contents.items():
        unread = sorted({(a or b).decode() for a, b in _IMPORT.findall(data)}
                        & (beside - {g[:-3] for g in GRADED}))
        if unread:
            notes.append(f"{name} imports {', '.join(unread)}, which the grader does not "
                         f"read (it runs only {' and '.join(REQUIRED)}): copy what you "
                         f"need into {name}.")
    return notes


def fingerprint(chosen: Selection, contents: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(contents):
        where = os.fsencode(chosen.files[name].rel)
        digest.update(b"graded\0" + name.encode() + b"\0" + where + b"\0"
                      + str(len(contents[name])).encode() + b"\0" + contents[name])
    return digest.hexdigest()


def content_hash(source: Path) -> str:
    """The fingerprint of what the grader reads of source, without writing anything (for
    grade-all's "graded already?"); a submission that cannot be read: its bytes' hash."""
    try:
        chosen = select(source, GRADED)
        return fingerprint(chosen, read_all(chosen))
    except SubmissionError:
        digest = hashlib.sha256(b"unreadable\0")
        if Path(source).is_file():
            with open(source, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
        return digest.hexdigest()


def graded_zip(source: Path, chosen: "Selection | None" = None) -> bytes:
    """A zip of the files the grader takes from source (chosen: select()'s answer, when
    the caller has it already), at their paths in it: graded from it, the same files
    give the same fingerprint and notes about names (what a remote grader needs to be
    sent, instead of the whole submission)."""
    chosen = chosen or select(source, GRADED)
    contents = read_all(chosen)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in contents.items():
            zf.writestr(zipfile.ZipInfo(chosen.files[name].rel, (1980, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


# ---- finding the files -------------------------------------------------------------------

def select(source: Path, names: tuple[str, ...]) -> Selection:
    """The file to read for each of names (those not found, with a note)."""
    source = Path(source)
    chosen = Selection(source)
    if source.is_dir():
        chosen.items = _list_folder(source)
    elif source.is_file():
        chosen.items = _list_zip(source, chosen)
    else:
        raise SubmissionError(f"{inert.line(source.name)} is neither a folder nor a .zip file")
    usable = [i for i in chosen.items if not i.link and not i.name.startswith(".")]  # ._x.py
    chosen.folder = _locate(usable)
    if chosen.folder:
        chosen.notes.append(f"Graded the files in {inert.line('/'.join(chosen.folder))}/")
    for name in names:
        _take(chosen, usable, name)
    return chosen


def _take(chosen: Selection, usable: list[Item], name: str) -> None:
    here = [i for i in usable if i.parts[:-1] == chosen.folder]
    there = [i for i in usable if i.parts[:-1] != chosen.folder]
    for tier, items in enumerate((here, there)):
        for match in (lambda i: i.name == name, lambda i: i.name.lower() == name.lower(),
                      lambda i: near(i.name, name)):
            found = [i for i in items if match(i)]
            if len(found) == 1:
                chosen.files[name] = found[0]
                if tier:
                    chosen.notes.append(f"Graded {inert.line(found[0].rel)} as {name} (it "
                                        "is not next to the other files).")
                elif found[0].name != name:
                    chosen.notes.append(f"{inert.line(found[0].name)} should be named "
                                        f"{name}: graded as {name} anyway.")
                return
            if found:
                shown = ", ".join(inert.line(i.rel) for i in found[:MAX_SHOWN])
                chosen.notes.append(f"{name} is missing; found: {shown}. Rename the one to "
                                    f"grade to {name}: until then its tests score 0.")
                return
    if name in REQUIRED:
        chosen.unreadable.append(f"{name} is missing from the submission: its tests score "
                                 f"0. {_found(chosen.items)}")
        chosen.notes.append(chosen.unreadable[-1])


def near(found: str, name: str) -> bool:
    """A near miss of name: another case, spaces, dashes, a copy's number or word
    (`RNN_Layers (1).py`, `rnn-layers2.py`, `rnn_layers copy.py`), the same suffix."""
    return _stem_key(found) == _stem_key(name)


def _stem_key(name: str) -> tuple[str, str]:
    stem, _, suffix = name.lower().rpartition(".")
    stem = re.sub(r"[^a-z0-9]", "", stem)
    return re.sub(r"(copy|kopie|\d)+$", "", stem), suffix


def _locate(usable: list[Item]) -> tuple[str, ...]:
    """The folder holding the most of the required files (near misses count), then the
    most by their exact names, then the shallowest; the top when none is anywhere."""
    score: dict[tuple, list[int]] = {}
    for item in usable:
        for name in REQUIRED:
            if near(item.name, name):
                counts = score.setdefault(item.parts[:-1], [0, 0])
                counts[0] -= 1
                counts[1] -= item.name.lower() == name
    if not score:
        return ()
    return min(score, key=lambda folder: (score[folder], len(folder), folder))


def _found(items: list[Item]) -> str:
    if not items:
        return "The submission holds no files."
    names = sorted((i.rel for i in items), key=lambda rel: (rel.count("/"), rel))
    more = f" and {len(names) - MAX_SHOWN} more" if len(names) > MAX_SHOWN else ""
    return "Files found: " + ", ".join(inert.line(n, 80) for n in names[:MAX_SHOWN]) + more + "."


def _skipped_folder(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_FOLDERS


def _list_folder(root: Path) -> list[Item]:
    """The files under root, breadth-first, not entering skipped folders or environments,
    links listed but not followed; at most MAX_LOOKED_AT entries looked at."""
    items, queue, looked = [], collections.deque([()]), 0
    while queue:
        parts = queue.popleft()
        try:
            with os.scandir(root.joinpath(*parts)) as listing:
                children = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            continue
        if parts and ENVIRONMENT_MARKS & {c.name for c in children}:
            continue
        for child in children:
            looked += 1
            if looked > MAX_LOOKED_AT:
                return items
            path = parts + (child.name,)
            try:
                if child.is_dir(follow_symlinks=False):
                    if len(path) < MAX_DEPTH and not _skipped_folder(child.name):
                        queue.append(path)
                elif child.is_symlink() or child.is_file(follow_symlinks=False):
                    items.append(Item(path, child.is_symlink(), Path(child.path)))
            except OSError:
                continue
    return items


def _list_zip(archive: Path, chosen: Selection) -> list[Item]:
    """The zip's files that could be graded (names only), in the same terms; notes on
    what was skipped added to chosen."""
    shown = inert.line(archive.name)
    if not zipfile.is_zipfile(archive):
        raise SubmissionError(f"{shown} is not a folder or a readable .zip file")
    environments: set[tuple] = set()

    def keep(name: str) -> bool:
        parts = _zip_parts(name)
        if parts and parts[-1] in ENVIRONMENT_MARKS or "conda-meta" in parts[:-1]:
            environments.add(parts[:parts.index("conda-meta")] if "conda-meta" in parts
                             else parts[:-1])
        return bool(parts) and not name.endswith(("/", "\\")) and len(parts) <= MAX_DEPTH \
            and not any(_skipped_folder(p) for p in parts[:-1])

    try:
        with open(archive, "rb") as f:
            entries, _, bad = zip_listing.entries(f, keep)
    except zip_listing.ZipError as exc:
        raise SubmissionError(f"{shown} {exc}") from None
    except OSError as exc:
        raise SubmissionError(f"{shown} cannot be read ({inert.line(exc.strerror, 80)})") from None
    if bad:
        chosen.notes.append(f"{bad} file names in {shown} are not valid UTF-8 and were skipped: if "
                     "one of them is a file to grade, make the zip again.")
    items: dict[tuple, Item] = {}
    for entry in entries:
        parts = _zip_parts(entry.name)
        if not parts or any(parts[:n] in environments for n in range(len(parts))):
            continue
        if parts in items and any(near(parts[-1], n) for n in GRADED):
            chosen.skipped.append(f"{shown} holds {inert.line(entry.name, 120)} twice: the "
                                  "last copy was used.")
            chosen.notes.append(chosen.skipped[-1])
        items[parts] = Item(parts, entry.is_link, entry)
    return list(items.values())


def _zip_parts(name: str) -> tuple[str, ...]:
    """The path of an entry, or () when it leaves the archive's folder (never read)."""
    parts = tuple(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))
    drive = bool(parts) and len(parts[0]) == 2 and parts[0][1] == ":"  # C:
    if ".." in parts or name.startswith(("/", "\\")) or drive:
        return ()
    return parts


# ---- reading them ------------------------------------------------------------------------

def read_all(chosen: Selection) -> dict[str, bytes]:
    """{proper name: bytes} of the files taken; one that cannot be read gets a note."""
    contents = {}
    archive = open(chosen.source, "rb") if chosen.source.is_file() else None
    try:
        for name, item in chosen.files.items():
            limit = MAX_NOTEBOOK_BYTES if name == NOTEBOOK else MAX_FILE_BYTES
            try:
                contents[name] = (zip_listing.read(archive, item.where, limit) if archive
                                  else _read_file(item.where, limit))
            except zip_listing.ZipError as exc:
                why = inert.line(exc, 120)
                chosen.notes.append(f"{inert.line(item.rel)} {why}: not graded, its tests "
                                    "score 0.")
            except OSError as exc:
                why = "could not be read (" + inert.line(exc.strerror or exc, 80) + ")"
                chosen.notes.append(f"{inert.line(item.rel)} {why}: not graded, its tests "
                                    "score 0.")
    finally:
        if archive:
            archive.close()
    return contents


def _read_file(path: Path, limit: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise zip_listing.ZipError(f"is larger than {limit >> 20} MB")
    return data


def capped(notes: list[str], skipped: list[str]) -> list[str]:
    """notes with at most MAX_NOTES of the notes about skipped entries (then how many
    more)."""
    if len(skipped) <= MAX_NOTES:
        return notes
    extra = set(skipped[MAX_NOTES:])
    return [n for n in notes if n not in extra] + [f"... and {len(extra)} more entries skipped."]
