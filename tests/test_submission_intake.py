"""Submissions as students make them (issue 22): the grader reads the files it grades and
nothing else, however much else there is; near-miss names are recognised when only one
file can be meant, and listed when several can."""
import dataclasses
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from autograder.intake import submission, zip_listing
from autograder.config import DEFAULT
from autograder.judging.grade import grade
from conftest import SOLUTIONS

CONFIG = dataclasses.replace(DEFAULT, timeout_scale=0.2)
VENV_FILES = 44_171  # the count of the .venv in the zip that was refused (issue 22)


def _student_folder(folder: Path) -> Path:
    """The reference, with what a student's folder holds besides: an environment (hidden
    and not), caches, data (a named pipe in it: reading it would hang), checkpoints."""
    folder.mkdir(parents=True)
    for name in ("rnn_layers.py", "rnn_classifier.py"):
        shutil.copy(SOLUTIONS / name, folder / name)
    for env in (".venv", "env"):
        lib = folder / env / "lib" / "python3.12" / "site-packages" / "pkg"
        lib.mkdir(parents=True)
        (folder / env / "pyvenv.cfg").write_text("home = /usr/bin\n")
        for i in range(300):
            (lib / f"m{i}.py").write_text("x = 1\n")
        (folder / env / "rnn_layers.py").write_text("raise SystemExit('a decoy')\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "rnn_layers.cpython-312.pyc").write_bytes(b"\0" * 64)
    (folder / "datasets").mkdir()
    os.mkfifo(folder / "datasets" / "data_batch_1")
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "best.npz").write_bytes(b"\0" * (3 << 20))
    return folder


def _watch_reads(monkeypatch) -> list[str]:
    """Every path the submission module opens or lists, and every zip entry it reads."""
    seen = []
    real_open, real_scandir, real_read = os.open, os.scandir, zip_listing.read

    def spy_open(path, *args, **kwargs):
        seen.append(os.fsdecode(path))
        return real_open(path, *args, **kwargs)

    def spy_scandir(path="."):
        seen.append(os.fsdecode(path) + "/")
        return real_scandir(path)

    def spy_read(f, entry, limit):
        seen.append("zip:" + entry.name)
        return real_read(f, entry, limit)

    monkeypatch.setattr(submission.os, "open", spy_open)
    monkeypatch.setattr(submission.os, "scandir", spy_scandir)
    monkeypatch.setattr(submission.zip_listing, "read", spy_read)
    return seen


def test_a_folder_with_an_environment_caches_data_and_checkpoints_reads_two_files(
        tmp_path, monkeypatch):
    folder = _student_folder(tmp_path / "alice")
    seen = _watch_reads(monkeypatch)
    graded, _, notes = submission.prepare(folder, tmp_path / "work")
    assert sorted(p.name for p in graded.iterdir()) == ["rnn_classifier.py", "rnn_layers.py"]
    assert notes == []
    opened = [p for p in seen if not p.endswith("/")]
    assert sorted(Path(p).name for p in opened) == ["rnn_classifier.py", "rnn_layers.py"]
    listed = sorted(os.path.relpath(p, folder) for p in seen if p.endswith("/"))
    # names only, one level: a sub-folder may hold the work; an environment is left at once
    assert listed == [".", "checkpoints", "datasets", "env"], listed


@pytest.fixture(scope="module")
def venv_zip(tmp_path_factory) -> Path:
    """The shape of the refused submission: the two files, a .venv of VENV_FILES files,
    a 256 MB bomb and a damaged entry beside them (neither may be unpacked)."""
    archive = tmp_path_factory.mktemp("zips") / "alice.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("rnn_layers.py", "rnn_classifier.py"):
            zf.write(SOLUTIONS / name, "rnn/" + name)
        zf.writestr("rnn/.venv/pyvenv.cfg", "home = /usr/bin\n")
        for i in range(VENV_FILES - 3):
            zf.writestr(f"rnn/.venv/lib/python3.12/site-packages/p{i // 500}/m{i}.py", b"")
        info = zipfile.ZipInfo("rnn/datasets/bomb.bin")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w") as bomb:
            for _ in range(256):
                bomb.write(bytes(1 << 20))
        zf.writestr("rnn/checkpoints/damaged.npz", b"weights" * 100)
    data = bytearray(archive.read_bytes())
    at = data.index(b"rnn/checkpoints/damaged.npz") + len("rnn/checkpoints/damaged.npz")
    data[at] ^= 0xFF  # its first byte: a checksum error, were it read
    archive.write_bytes(bytes(data))
    return archive


def test_a_zip_with_its_environment_inside_is_graded_on_two_entries(venv_zip, tmp_path,
                                                                     monkeypatch):
    seen = _watch_reads(monkeypatch)
    graded, _, notes = submission.prepare(venv_zip, tmp_path / "work")
    assert sorted(p.name for p in graded.iterdir()) == ["rnn_classifier.py", "rnn_layers.py"]
    assert notes == ["Graded the files in rnn/"]
    assert sorted(seen) == ["zip:rnn/rnn_classifier.py", "zip:rnn/rnn_layers.py"]
    assert not (tmp_path / "work" / "unzipped").exists()


def test_the_refused_submission_now_scores_100(venv_zip):
    result = grade(venv_zip, CONFIG)
    assert result.score == 100, result.output
    assert "2000" not in result.output and "more than" not in result.output


# ---- near-miss names ---------------------------------------------------------------------

NAMES = [  # (files of the submission, the file graded as rnn_layers.py or None, a note)
    (["rnn_layers (1).py"], "rnn_layers (1).py", "rnn_layers (1).py should be named rnn_layers.py"),
    (["rnn_layers-2.py"], "rnn_layers-2.py", "rnn_layers-2.py should be named rnn_layers.py"),
    (["RNN_Layers.py"], "RNN_Layers.py", "RNN_Layers.py should be named rnn_layers.py"),
    (["rnn_layers copy.py"], "rnn_layers copy.py", "should be named rnn_layers.py"),
    (["src/rnn_layers.py"], "src/rnn_layers.py", "Graded src/rnn_layers.py as rnn_layers.py"),
    (["rnn_layers.py", "rnn_layers (1).py"], "rnn_layers.py", None),
    (["rnn_layers (1).py", "rnn_layers (2).py"], None,
     "rnn_layers.py is missing; found: rnn_layers (1).py, rnn_layers (2).py. Rename the one "
     "to grade to rnn_layers.py"),
    (["a/rnn_layers.py", "b/rnn_layers.py"], None,
     "rnn_layers.py is missing; found: a/rnn_layers.py, b/rnn_layers.py."),
    (["notes.txt", "rnn_layer_notes.md"], None,
     "rnn_layers.py is missing from the submission: its tests score 0. Files found: "
     "notes.txt, rnn_classifier.py, rnn_layer_notes.md."),
    (["rnn_layers.txt"], None, "Files found: rnn_classifier.py, rnn_layers.txt."),
    (["._rnn_layers.py"], None, "rnn_layers.py is missing from the submission"),  # macOS junk
]


def _make(kind: str, root: Path, names: list[str]) -> Path:
    files = {"rnn_classifier.py": b"# the classifier\n"}
    files.update({name: f"# from {name}\n".encode() for name in names})
    if kind == "zip":
        with zipfile.ZipFile(root.with_suffix(".zip"), "w") as zf:
            for name, data in files.items():
                zf.writestr(name, data)
        return root.with_suffix(".zip")
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


@pytest.mark.parametrize("kind", ["folder", "zip"])
@pytest.mark.parametrize("names,graded,note", NAMES, ids=[" + ".join(n[0]) for n in NAMES])
def test_near_miss_names_are_recognised_when_unambiguous_and_listed_otherwise(
        tmp_path, kind, names, graded, note):
    source = _make(kind, tmp_path / "s", names)
    folder, _, notes = submission.prepare(source, tmp_path / "work")
    layers = folder / "rnn_layers.py"
    if graded is None:
        assert not layers.exists()
    else:
        assert layers.read_text() == f"# from {graded}\n"
    assert (folder / "rnn_classifier.py").read_text() == "# the classifier\n"
    if note is None:
        assert notes == []
    else:
        assert any(note in n for n in notes), notes


def test_the_folder_with_both_files_wins_over_one_with_one_exact_name(tmp_path):
    source = tmp_path / "s"
    for name in ("rnn_layers (1).py", "rnn_classifier (1).py", "old/rnn_layers.py"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(f"# from {name}\n")
    folder, _, notes = submission.prepare(source, tmp_path / "work")
    assert (folder / "rnn_layers.py").read_text() == "# from rnn_layers (1).py\n"
    assert (folder / "rnn_classifier.py").read_text() == "# from rnn_classifier (1).py\n"


def test_a_near_miss_name_grades_100(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    shutil.copy(SOLUTIONS / "rnn_layers.py", folder / "rnn_layers (1).py")
    shutil.copy(SOLUTIONS / "rnn_classifier.py", folder / "rnn_classifier.py")
    result = grade(folder, CONFIG)
    assert result.score == 100
    assert "rnn_layers (1).py should be named rnn_layers.py" in result.output


# ---- the fingerprint: what is graded, not what surrounds it ------------------------------

def test_the_fingerprint_covers_the_graded_files_only(tmp_path):
    folder = _student_folder(tmp_path / "s")
    first = submission.content_hash(folder)
    (folder / "env" / "lib" / "new.py").write_text("y = 2\n")
    (folder / "checkpoints" / "best.npz").write_bytes(b"\1")
    assert submission.content_hash(folder) == first
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("rnn_layers.py", "rnn_classifier.py"):
            zf.write(folder / name, name)
    assert submission.content_hash(archive) == first  # the same work, zipped
    with open(folder / "rnn_layers.py", "a") as f:
        f.write("# one more comment\n")
    assert submission.content_hash(folder) != first


@pytest.mark.parametrize("names", [["rnn_layers (1).py"], ["hw/rnn_layers.py"]])
def test_the_graded_zip_grades_like_its_source(tmp_path, venv_zip, names):
    """What a remote grader is sent: the same files, fingerprint and notes as the source."""
    for source in (_make("folder", tmp_path / "s", names), venv_zip):
        archive = tmp_path / "sent.zip"
        archive.write_bytes(submission.graded_zip(source))
        here, sent = (submission.prepare(p, tmp_path / w) for p, w in
                      ((source, "a"), (archive, "b")))
        assert here[1:] == sent[1:]
        assert ({p.name: p.read_bytes() for p in here[0].iterdir()}
                == {p.name: p.read_bytes() for p in sent[0].iterdir()})
        assert archive.stat().st_size < 100_000
        shutil.rmtree(tmp_path / "a")
        shutil.rmtree(tmp_path / "b")


def test_importing_a_file_the_grader_does_not_read_is_named(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "rnn_layers.py").write_text("import numpy as np\nfrom gradient_check import "
                                          "rel_error\nimport my_helpers\n")
    (folder / "rnn_classifier.py").write_text("from rnn_layers import rnn_forward\n")
    for name in ("gradient_check.py", "my_helpers.py"):
        (folder / name).write_text("")
    graded, _, notes = submission.prepare(folder, tmp_path / "work")
    assert sorted(p.name for p in graded.iterdir()) == ["rnn_classifier.py", "rnn_layers.py"]
    assert notes == ["rnn_layers.py imports gradient_check, my_helpers, which the "
                     "grader does not read (it runs only rnn_layers.py and "
                     "rnn_classifier.py): copy what you need into rnn_layers.py."]
