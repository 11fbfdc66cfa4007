"""The students' download_cifar10.py (released unchanged), on local fake archives: a path,
a file:// URL and a throwaway HTTP server on 127.0.0.1; never the network."""
import hashlib
import http.server
import io
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

import data_utils
import download_cifar10 as dl
from autograder import data
from cifar_fake import write_fake_cifar
from conftest import RELEASE, SOLUTIONS


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = write_fake_cifar(tmp_path_factory.mktemp("src"), n_per_batch=20)
    path = tmp_path_factory.mktemp("served") / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(root, arcname=dl.FOLDER)
    return path


@pytest.fixture
def dest(tmp_path) -> Path:
    return tmp_path / "datasets" / dl.FOLDER


def _leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.parent.iterdir() if p.name != dest.name)


@pytest.mark.parametrize("as_url", [str, Path.as_uri], ids=["path", "file-url"])
def test_local_archive_is_verified_and_unpacked(archive, dest, as_url, capsys):
    assert dl.main(["--url", as_url(archive), "--md5", _md5(archive), "--dest", str(dest)]) == 0
    X_train, _, X_test, _ = data_utils.load_cifar10(dest)  # what the notebook reads
    assert X_train.shape == (100, 32, 32, 3) and X_test.shape == (20, 32, 32, 3)
    assert _leftovers(dest) == []
    assert f"CIFAR-10 is in {dest}" in capsys.readouterr().out
    assert archive.is_file(), "the student's own archive was deleted"


def test_http_download_shows_progress_and_cleans_up(archive, dest, capsys):
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(archive.parent), **k)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/{archive.name}"
        assert dl.main(["--url", url, "--md5", _md5(archive), "--dest", str(dest)]) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert "(100 %)" in capsys.readouterr().err, "no progress message"
    assert data_utils.load_cifar10(dest)[0].shape[0] == 100
    assert _leftovers(dest) == [], "the downloaded archive was kept"


def test_wrong_md5_unpacks_nothing_and_names_md5(archive, dest, capsys):
    assert dl.main(["--url", str(archive), "--dest", str(dest)]) == 1  # the official MD5
    err = capsys.readouterr().err
    assert _md5(archive) in err and dl.CIFAR_MD5 in err and "--md5" in err
    assert not dest.exists() and _leftovers(dest) == []


def test_offline_says_how_to_do_it_by_hand(dest, capsys):
    assert dl.main(["--url", "http://127.0.0.1:9/cifar-10-python.tar.gz",
                    "--dest", str(dest)]) == 1
    err = capsys.readouterr().err
    assert dl.CIFAR_URL in err and dl.CIFAR_MD5 in err and "--url" in err
    assert _leftovers(dest) == []


@pytest.mark.parametrize("name, entry", [
    ("escape", "../outside"), ("absolute", "/tmp/absolute"), ("stray", "elsewhere/file"),
    ("link", None)])
def test_archive_entries_outside_the_folder_are_refused(tmp_path, dest, name, entry, capsys):
    bad = tmp_path / f"{name}.tar"
    with tarfile.open(bad, "w") as tar:
        info = tarfile.TarInfo(entry or f"{dl.FOLDER}/data_batch_1")
        if entry is None:
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    assert dl.main(["--url", str(bad), "--md5", _md5(bad), "--dest", str(dest)]) == 1
    assert "unexpected entry" in capsys.readouterr().err
    assert not dest.exists() and not (tmp_path / "outside").exists()


def test_existing_data_is_kept(archive, dest, capsys):
    write_fake_cifar(dest.parent, n_per_batch=10)
    assert dl.main(["--url", "/nonexistent.tar.gz", "--dest", str(dest)]) == 0
    assert "already in" in capsys.readouterr().out


def test_defaults_are_what_data_utils_reads_and_the_official_archive(monkeypatch):
    assert (dl.CIFAR_URL, dl.CIFAR_MD5, dl.REQUIRED) == (data.CIFAR_URL, data.CIFAR_MD5,
                                                          data.REQUIRED)
    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    assert dl.default_dest() == data_utils.default_cifar_dir()
    monkeypatch.setenv("CIFAR10_DIR", "/somewhere/cifar")
    assert dl.default_dest() == data_utils.default_cifar_dir() == Path("/somewhere/cifar")


def test_released_unchanged_and_runs_with_only_the_standard_library(tmp_path, archive):
    assert (RELEASE / "download_cifar10.py").read_bytes() == \
        (SOLUTIONS / "download_cifar10.py").read_bytes()
    done = subprocess.run([sys.executable, "-S", "-I", str(RELEASE / "download_cifar10.py"),
                           "--url", str(archive), "--md5", _md5(archive),
                           "--dest", str(tmp_path / dl.FOLDER)],
                          capture_output=True, text=True, timeout=60)  # -S: no site-packages
    assert done.returncode == 0, done.stderr
    assert (tmp_path / dl.FOLDER / "test_batch").is_file()
