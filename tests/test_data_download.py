"""`make data` (autograder/data.py) on a local fake archive: never the network.

The archive is built here from tests/cifar_fake.py files, in the official layout
(`cifar-10-batches-py/data_batch_1` ...), and served from a local path, a file:// URL,
or a throwaway HTTP server on 127.0.0.1 that honours Range requests (to pin resuming).
"""
import hashlib
import http.server
import shlex
import shutil
import subprocess
import sys
import tarfile
import threading
import urllib.error
from argparse import Namespace
from pathlib import Path

import pytest

from autograder import data
from autograder.config import DEFAULT
from cifar_fake import write_fake_cifar
from conftest import ROOT, require_cifar_subset
from data_utils import load_cifar10


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """A fake cifar-10-python.tar.gz (a few hundred kB, so that it spans many chunks)."""
    folder = tmp_path_factory.mktemp("fake-src")
    root = write_fake_cifar(folder, n_per_batch=20)
    path = tmp_path_factory.mktemp("server") / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(root, arcname="cifar-10-batches-py")
    return path


@pytest.fixture
def place(tmp_path):
    """Destination and cache folders of one run."""
    return Namespace(dest=tmp_path / "datasets" / "cifar-10-batches-py",
                     cache=tmp_path / "cache")


def _run(url, md5, place, force=False, quiet=False) -> int:
    args = Namespace(url=str(url), md5=md5, dest=place.dest, cache_dir=place.cache,
                     force=force, quiet=quiet)
    return data.run(args, DEFAULT)


def _leftovers(place) -> list[str]:
    """Scratch folders or partial files that must never stay behind."""
    found = [p.name for p in place.dest.parent.glob(".*")] if place.dest.parent.exists() else []
    return found + [p.name for p in place.cache.glob("*.part")]


@pytest.mark.parametrize("as_url", [str, lambda p: p.as_uri()], ids=["path", "file-url"])
def test_download_is_verified_and_unpacked_where_asked(archive, place, as_url, capsys):
    assert _run(as_url(archive), _md5(archive), place) == 0
    X_train, y_train, X_test, _ = load_cifar10(place.dest)  # what the notebook reads
    assert X_train.shape == (100, 32, 32, 3) and X_test.shape == (20, 32, 32, 3)
    assert (place.cache / archive.name).read_bytes() == archive.read_bytes()
    err = capsys.readouterr().err
    assert "100.0%" in err, "no progress bar"
    assert _leftovers(place) == []


def test_bad_checksum_is_refused_with_a_clear_message(archive, place, capsys):
    wrong = "0" * 32
    assert _run(archive, wrong, place) == 1
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and wrong in err and _md5(archive) in err
    assert "--md5" in err and "MD5=" in err, "does not say how to give another archive's MD5"
    assert not place.dest.exists(), "unpacked although the checksum was wrong"
    assert list(place.cache.iterdir()) == [], "the bad download was kept"


def test_partial_download_is_resumed(archive, place, capsys):
    place.cache.mkdir()
    payload = archive.read_bytes()
    (place.cache / (archive.name + ".part")).write_bytes(payload[:len(payload) // 3])
    assert _run(archive, _md5(archive), place) == 0
    assert "resuming the download at" in capsys.readouterr().out
    assert _md5(place.cache / archive.name) == _md5(archive)
    assert load_cifar10(place.dest)[0].shape[0] == 100


def test_corrupt_partial_is_refused_then_restarted(archive, place, capsys):
    place.cache.mkdir()
    payload = archive.read_bytes()
    part = place.cache / (archive.name + ".part")
    part.write_bytes(bytes(len(payload) // 2))  # zeros: resuming cannot repair this
    assert _run(archive, _md5(archive), place) == 1
    assert "checksum mismatch" in capsys.readouterr().err
    assert not part.exists() and not place.dest.exists()
    assert _run(archive, _md5(archive), place) == 0  # the next run starts afresh
    assert load_cifar10(place.dest)[0].shape[0] == 100


def test_partial_longer_than_the_archive_restarts(archive, place, capsys):
    place.cache.mkdir()
    (place.cache / (archive.name + ".part")).write_bytes(archive.read_bytes() + b"junk")
    assert _run(archive, _md5(archive), place) == 0
    assert "restarting the download" in capsys.readouterr().out


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves one file, honouring `Range: bytes=START-` (SimpleHTTPRequestHandler does not)."""

    payload = b""
    ranges: list = []

    def do_GET(self):
        start = 0
        header = self.headers.get("Range")
        if header and self.supports_range:
            start = int(header.split("=")[1].split("-")[0])
        type(self).ranges.append(header)
        body = self.payload[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range",
                             f"bytes {start}-{len(self.payload) - 1}/{len(self.payload)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("supports_range, expected", [(True, "resuming the download at"),
                                                      (False, "restarting the download")])
def test_http_partial_download_uses_range_or_restarts(archive, place, capsys,
                                                       supports_range, expected):
    handler = type("Handler", (_RangeHandler,), {"payload": archive.read_bytes(),
                                                 "ranges": [],
                                                 "supports_range": supports_range})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        place.cache.mkdir()
        cut = len(handler.payload) // 2
        (place.cache / (archive.name + ".part")).write_bytes(handler.payload[:cut])
        url = f"http://127.0.0.1:{server.server_address[1]}/{archive.name}"
        assert _run(url, _md5(archive), place) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert handler.ranges == [f"bytes={cut}-"]
    assert expected in capsys.readouterr().out
    assert _md5(place.cache / archive.name) == _md5(archive)


def _archive_variant(tmp_path, name, build) -> Path:
    path = tmp_path / name
    build(path)
    return path


def _truncated(archive):
    """A gzip stream cut in the middle: tarfile fails part-way through extracting."""
    return lambda path: path.write_bytes(archive.read_bytes()[:len(archive.read_bytes()) * 2 // 3])


def _without_test_batch(tmp_path):
    def build(path):
        root = write_fake_cifar(tmp_path / "partial-src", n_per_batch=10)
        (root / "test_batch").unlink()
        with tarfile.open(path, "w:gz") as tar:
            tar.add(root, arcname="cifar-10-batches-py")
    return build


@pytest.mark.parametrize("kind, message", [("truncated", "cannot unpack"),
                                           ("no test_batch", "lacks test_batch")])
def test_nothing_is_left_half_unpacked(archive, tmp_path, place, capsys, kind, message):
    build = _truncated(archive) if kind == "truncated" else _without_test_batch(tmp_path)
    bad = _archive_variant(tmp_path, "cifar-10-python.tar.gz", build)
    assert _run(bad, _md5(bad), place) == 1  # the right checksum: unpacking fails
    assert message in capsys.readouterr().err
    assert not place.dest.exists(), "a half-unpacked destination was left"
    assert _leftovers(place) == []


def test_failed_unpack_keeps_the_previous_folder(archive, tmp_path, place):
    assert _run(archive, _md5(archive), place) == 0
    before = sorted(p.name for p in place.dest.iterdir())
    bad = _archive_variant(tmp_path, "broken.tar.gz", _truncated(archive))
    assert _run(bad, _md5(bad), place, force=True) == 1
    assert sorted(p.name for p in place.dest.iterdir()) == before
    assert _leftovers(place) == []


def test_existing_data_is_kept_unless_forced(archive, place, capsys):
    assert _run(archive, _md5(archive), place, quiet=True) == 0
    marker = place.dest / "mine.txt"
    marker.write_text("student notes")
    assert _run("/nonexistent/cifar.tar.gz", _md5(archive), place) == 0  # not even read
    assert "already in" in capsys.readouterr().out and marker.exists()
    assert _run(archive, _md5(archive), place, force=True, quiet=True) == 0  # cached copy
    assert not marker.exists() and load_cifar10(place.dest)[0].shape[0] == 100


def test_no_network_says_what_to_do(place, monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(data.urllib.request, "urlopen", offline)
    assert _run(data.CIFAR_URL, data.CIFAR_MD5, place) == 1
    err = capsys.readouterr().err
    assert "cannot reach" in err and "--url" in err and "CIFAR10_DIR" in err
    assert data.CIFAR_MD5 in err
    assert not place.dest.exists()


def test_missing_local_archive_is_named(place, capsys):
    assert _run("/nonexistent/cifar-10-python.tar.gz", data.CIFAR_MD5, place) == 1
    assert "/nonexistent/cifar-10-python.tar.gz not found" in capsys.readouterr().err


def test_defaults_are_the_official_archive_and_the_notebooks_folder(monkeypatch):
    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    assert data.CIFAR_URL == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert data.CIFAR_MD5 == "c58f30108f718f92721af3b95e74349a"
    # the folder the released data_utils.default_cifar_dir() looks in
    assert data.default_dest(DEFAULT) == (ROOT / "assignment" / "rnn" / "datasets"
                                          / "cifar-10-batches-py")
    monkeypatch.setenv("CIFAR10_DIR", "/somewhere/cifar")
    assert data.default_dest(DEFAULT) == Path("/somewhere/cifar")


def test_the_verb_runs_from_the_command_line(archive, place):
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "data", "--url", archive.as_uri(),
         "--md5", _md5(archive), "--dest", str(place.dest), "--cache-dir", str(place.cache)],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"CIFAR-10 is in {place.dest}" in done.stdout
    assert load_cifar10(place.dest)[0].shape[0] == 100


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("with_flags", [True, False], ids=["URL-and-MD5", "defaults"])
def test_make_data_passes_url_and_md5(archive, place, tmp_path, with_flags):
    """`make data URL=... MD5=...` runs the verb with --url / --md5 (make -n: the command
    it would run, then that very command, with a scratch cache and destination)."""
    spaced = tmp_path / "a folder" / archive.name  # a path with a space survives
    spaced.parent.mkdir()
    shutil.copy(archive, spaced)
    flags = [f"URL={spaced}", f"MD5={_md5(archive)}"] if with_flags else []
    done = subprocess.run(["make", "-n", "-s", "data", "STAMP=", f"PY={sys.executable}",
                           *flags], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    command = shlex.split(done.stdout.strip())
    assert command[:4] == [sys.executable, "-m", "autograder", "data"]
    if not with_flags:
        assert command[4:] == []
        return
    assert command[4:] == ["--url", str(spaced), "--md5", _md5(archive)]
    ran = subprocess.run(command + ["--dest", str(place.dest), "--cache-dir", str(place.cache)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert load_cifar10(place.dest)[0].shape[0] == 100


def _readme_block(after: str) -> str:
    """The first ``` block of the README's "Data" section that follows `after`."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    data_section = text[text.index("## Data"):]
    rest = data_section[data_section.index(after):]
    return rest.split("```")[1].strip()


def test_readme_gives_the_subsets_file_md5s():
    subset = require_cifar_subset()
    lines = _readme_block("`md5sum -c`").splitlines()
    stated = dict(reversed(line.split()) for line in lines)
    assert stated == {p.name: _md5(p) for p in sorted(subset.iterdir()) if p.is_file()}


@pytest.mark.skipif(shutil.which("tar") is None, reason="tar is not installed")
def test_readme_subset_archive_has_the_stated_md5(tmp_path, place):
    subset = require_cifar_subset()
    if "GNU tar" not in subprocess.run(["tar", "--version"], capture_output=True,
                                       text=True).stdout:
        pytest.skip("the README's command needs GNU tar")
    command = _readme_block("Packed reproducibly").replace("\\\n", " ")
    command = command.replace("/tmp/cifar-10-subset.tar", str(tmp_path / "subset.tar"))
    subprocess.run(shlex.split(command), cwd=subset.parent, check=True)
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    md5 = text.split("make data URL=/tmp/cifar-10-subset.tar MD5=")[1][:32]
    assert _md5(tmp_path / "subset.tar") == md5
    assert _run(tmp_path / "subset.tar", md5, place) == 0  # what `make data` runs
    assert load_cifar10(place.dest)[0].shape == (5085, 32, 32, 3)
