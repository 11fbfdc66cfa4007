"""Turn what a student handed in (a folder or a .zip) into a clean folder to grade.

Only the top-level .py files of the folder that holds rnn_layers.py are copied into a
fresh directory (regular files, size-capped); zips are unpacked defensively. Nothing
from the submission is executed here.
"""
import hashlib
import zipfile
from pathlib import Path

REQUIRED = ("rnn_layers.py", "rnn_classifier.py")
MAX_FILE_BYTES = 2 << 20
MAX_UNZIPPED_BYTES = 64 << 20
MAX_ZIP_ENTRIES = 2000


class SubmissionError(Exception):
    """The submission cannot be read at all."""


def prepare(source: Path, workdir: Path) -> tuple[Path, str, list[str]]:
    """(folder to grade, content fingerprint, notes for the student)."""
    source = Path(source)
    if source.is_file():
        source = _unzip(source, workdir / "unzipped")
    elif not source.is_dir():
        raise SubmissionError(f"{source} is neither a folder nor a .zip file")
    folder, notes = _locate(source)
    target = workdir / "student"
    target.mkdir(parents=True)
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.suffix == ".py" and path.is_file() and not path.is_symlink():
            if path.stat().st_size > MAX_FILE_BYTES:
                notes.append(f"{path.name} is larger than {MAX_FILE_BYTES >> 20} MB: ignored")
                continue
            name = path.name.lower() if path.name.lower() in REQUIRED else path.name
            data = path.read_bytes()
            (target / name).write_bytes(data)
            if name in REQUIRED:
                digest.update(name.encode() + b"\0" + data + b"\0")
    for name in REQUIRED:
        if not (target / name).exists():
            notes.append(f"{name} is missing from the submission: its tests score 0.")
    notebooks = sorted(p.name for p in folder.glob("*.ipynb"))
    if notebooks and not any((target / name).exists() for name in REQUIRED):
        notes.append(f"Only {', '.join(notebooks)} was found: the grader runs the .py files. "
                     f"Submit {' and '.join(REQUIRED)} (your work lives there) with it.")
    return target, digest.hexdigest(), notes


def _locate(root: Path) -> tuple[Path, list[str]]:
    """The shallowest folder holding rnn_layers.py (macOS __MACOSX junk ignored)."""
    candidates = [p.parent for p in root.rglob("*") if p.name.lower() in REQUIRED
                  and "__MACOSX" not in p.parts and p.is_file() and not p.is_symlink()
                  and len(p.relative_to(root).parts) <= 4]
    if not candidates:
        return root, []
    folder = min(candidates, key=lambda p: (len(p.parts), str(p)))
    notes = [] if folder == root else [f"Graded the files in {folder.relative_to(root)}/"]
    for path in folder.iterdir():
        if path.name.lower() in REQUIRED and path.name not in REQUIRED:
            notes.append(f"{path.name} should be named {path.name.lower()}: graded anyway")
    return folder, notes


def _unzip(archive: Path, target: Path) -> Path:
    if not zipfile.is_zipfile(archive):
        raise SubmissionError(f"{archive.name} is not a folder or a readable .zip file")
    target.mkdir(parents=True)
    total = 0
    with zipfile.ZipFile(archive) as zf:
        entries = zf.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise SubmissionError(f"{archive.name} holds {len(entries)} files; at most "
                                  f"{MAX_ZIP_ENTRIES} are accepted")
        for entry in entries:
            parts = Path(entry.filename).parts
            is_link = (entry.external_attr >> 16) & 0o170000 == 0o120000
            if entry.is_dir() or is_link or ".." in parts or Path(entry.filename).is_absolute():
                continue
            destination = target.joinpath(*parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(entry) as src, open(destination, "wb") as dst:
                while chunk := src.read(1 << 20):  # count real bytes: sizes in a zip can lie
                    total += len(chunk)
                    if total > MAX_UNZIPPED_BYTES:
                        raise SubmissionError(f"{archive.name} unpacks to more than "
                                              f"{MAX_UNZIPPED_BYTES >> 20} MB")
                    dst.write(chunk)
    return target
