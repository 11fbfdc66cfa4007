"""`make data` / `python -m autograder data`: CIFAR-10 (python version) where the notebook looks.
下载 CIFAR-10（python 版本），校验 MD5，并解压到 notebook 读取数据的位置。

Phases, each a function:
    _download   the archive into a `.part` file in the cache folder, with a progress bar;
                an existing `.part` is resumed (HTTP Range, or a seek for local files),
                and restarted when the server ignores the range
    _verify     MD5 of the finished file against the published checksum; a mismatch
                deletes the file (a resumed download could not repair it) and refuses
    _unpack     into a temporary folder next to the destination, checked, then renamed
                into place: the destination is either absent or complete, never half there

The verified archive stays in the cache (build/downloads/, ignored by git), so a second
run, e.g. after `make release` replaced assignment/, unpacks again without the network.
The URL, checksum, destination and cache are flags, so tests use a local fake archive.
"""
import argparse
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tqdm import tqdm

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_MD5 = "c58f30108f718f92721af3b95e74349a"  # published on the CIFAR-10 page
ARCHIVE_FOLDER = "cifar-10-batches-py"  # the one top-level folder of the archive
REQUIRED = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
CHUNK = 1 << 16  # bytes read at a time
TIMEOUT = 30  # seconds without an answer before a download gives up (it can resume)


class DataError(Exception):
    """Base of every failure of `autograder data`; its message says what to do."""


class DownloadError(DataError):
    """The archive could not be fetched (no network, bad URL, interrupted)."""


class ChecksumError(DataError):
    """The downloaded file is not the published archive."""


class ArchiveError(DataError):
    """The archive could not be unpacked, or does not hold CIFAR-10."""


# ----------------------------------------------------------------- command line

def default_dest(config) -> Path:
    """CIFAR10_DIR if set, else what the released data_utils.default_cifar_dir() uses."""
    env = os.environ.get("CIFAR10_DIR")
    if env:
        return Path(env).expanduser()
    return config.release_dir / config.assignment / "datasets" / ARCHIVE_FOLDER


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dest", type=Path, default=None,
                        help="the cifar-10-batches-py folder to create (default: $CIFAR10_DIR, "
                             "else assignment/rnn/datasets/cifar-10-batches-py)")
    parser.add_argument("--url", default=CIFAR_URL,
                        help="where the archive is: http(s):// or file:// URL, or a local path")
    parser.add_argument("--md5", default=CIFAR_MD5, help="expected MD5 of the archive")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where the archive is downloaded and kept (default: build/downloads)")
    parser.add_argument("--force", action="store_true",
                        help="replace the destination folder if it already exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args, config) -> int:
    dest = Path(args.dest) if args.dest is not None else default_dest(config)
    cache = Path(args.cache_dir) if args.cache_dir is not None else config.root / "build" / "downloads"
    try:
        fetch_cifar10(args.url, args.md5.lower(), dest, cache, force=args.force,
                      progress=None if args.quiet else sys.stderr)
    except DataError as err:
        print(f"autograder data: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nautograder data: interrupted; run it again to resume the download",
              file=sys.stderr)
        return 130
    if dest != default_dest(config):
        print(f"the notebook finds it there with: export CIFAR10_DIR={dest}")
    return 0


# ----------------------------------------------------------------- the phases

def fetch_cifar10(url: str, md5: str, dest: Path, cache: Path, force: bool = False,
                  progress=sys.stderr) -> Path:
    """Make `dest` a complete cifar-10-batches-py folder; return it."""
    if _complete(dest) and not force:
        print(f"CIFAR-10 is already in {dest} (use --force to unpack it again)")
        return dest
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / _archive_name(url)
    if archive.is_file() and _md5(archive) != md5:
        archive.unlink()  # a stale or damaged copy: fetch it again
    if not archive.is_file():
        part = archive.with_name(archive.name + ".part")
        _download(url, part, progress)
        _verify(part, md5, url)
        os.replace(part, archive)
    else:
        print(f"using the verified archive {archive}")
    _unpack(archive, dest)
    print(f"CIFAR-10 is in {dest}")
    return dest


def _download(url: str, part: Path, progress) -> None:
    """Fetch url into `part`, continuing from what `part` already holds."""
    have = part.stat().st_size if part.is_file() else 0
    stream, total, offset = _open(url, have)
    if have and offset == have:
        print(f"resuming the download at {have / 1e6:.1f} MB")
    elif have:
        print("the server cannot resume: restarting the download")
    bar = _progress_bar(total, offset, progress)
    try:
        with stream, open(part, "r+b" if offset else "wb") as out:
            out.seek(offset)
            out.truncate()
            while True:
                try:
                    chunk = stream.read(CHUNK)
                except OSError as err:  # the connection dropped mid-way
                    raise DownloadError(f"the download of {url} broke off ({err}); run the "
                                        f"same command again to resume it") from None
                if not chunk:
                    break
                out.write(chunk)
                bar.update(len(chunk))
    finally:
        bar.close()
    if total is not None and part.stat().st_size != total:
        raise DownloadError(f"the download of {url} stopped at {part.stat().st_size} of "
                            f"{total} bytes; run the same command again to resume it")


def _open(url: str, offset: int):
    """(readable stream, total size or None, offset it starts at: `offset` or 0)."""
    path = _local_path(url)
    if path is not None:
        if not path.is_file():
            raise DownloadError(f"{path} not found; give --url the path or URL of "
                                f"cifar-10-python.tar.gz")
        size = path.stat().st_size
        start = offset if offset <= size else 0
        stream = open(path, "rb")
        stream.seek(start)
        return stream, size, start
    request = urllib.request.Request(url, headers={"User-Agent": "rnn-homework"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # range past the end: the .part is too long
            return _open_fresh(url)
        raise DownloadError(f"{url} answered HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(_offline_message(url, reason)) from None
    length = response.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if offset and response.status == 206 and _range_start(response) == offset:
        return response, (offset + length if length is not None else None), offset
    return response, length, 0  # a plain 200: the whole file from the start


def _open_fresh(url: str):
    stream, total, _ = _open(url, 0)
    return stream, total, 0


def _range_start(response) -> int | None:
    """The first byte of a 206 answer, from `Content-Range: bytes START-END/TOTAL`."""
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _verify(part: Path, md5: str, url: str) -> None:
    actual = _md5(part)
    if actual != md5:
        size = part.stat().st_size
        part.unlink()
        raise ChecksumError(
            f"checksum mismatch: the file downloaded from {url} ({size} bytes) has MD5 "
            f"{actual}, expected {md5}. It was deleted; nothing was unpacked. Run the "
            f"command again to download it afresh; if it fails again, the file at that "
            f"address is not the official cifar-10-python.tar.gz. For another archive in "
            f"the same format (say a smaller copy), give its MD5: --md5 MD5 "
            f"(make data URL=... MD5=...).")


def _unpack(archive: Path, dest: Path) -> None:
    """Extract into a scratch folder beside `dest`, check it, then rename it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{dest.name}.unpacking-", dir=dest.parent))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                tar.extractall(scratch, filter="data")  # no absolute paths, links out, ...
        except (tarfile.TarError, OSError, EOFError) as err:
            raise ArchiveError(f"cannot unpack {archive}: {err}; delete it and run the "
                               f"command again") from None
        unpacked = scratch / ARCHIVE_FOLDER
        missing = [name for name in REQUIRED if not (unpacked / name).is_file()]
        if missing:
            raise ArchiveError(f"{archive} is not the CIFAR-10 python archive: "
                               f"{ARCHIVE_FOLDER}/ lacks {', '.join(missing)}")
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        if dest.exists():
            os.rename(dest, old)
        try:
            os.rename(unpacked, dest)
        except OSError:
            if old.exists():
                os.rename(old, dest)
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ----------------------------------------------------------------- helpers

def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED)


def _archive_name(url: str) -> str:
    name = Path(urllib.parse.urlparse(url).path).name
    return name or "cifar-10-python.tar.gz"


def _local_path(url: str) -> Path | None:
    """The file a file:// URL or plain path names; None for http(s) URLs."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    if not parsed.scheme or (len(parsed.scheme) == 1 and os.name == "nt"):  # C:\ drive
        return Path(url).expanduser()
    return None


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _offline_message(url: str, reason) -> str:
    return (f"cannot reach {url} ({reason}). Without a network connection:\n"
            f"  1. on a machine with one, download {CIFAR_URL}\n"
            f"     (163 MB, MD5 {CIFAR_MD5});\n"
            f"  2. copy it here and run:  python -m autograder data --url PATH/TO/"
            f"cifar-10-python.tar.gz\n"
            f"     or unpack it yourself and set CIFAR10_DIR to its cifar-10-batches-py folder.\n"
            f"A partial download is kept and resumed by the next run.")


def _progress_bar(total: int | None, done: int, stream) -> tqdm:
    """` 45.2%|█████     | 73.9M/163M [00:14<00:17, 5.10MB/s]`, redrawn in place (tqdm);
    nothing at all when stream is None (--quiet)."""
    return tqdm(total=total, initial=done, file=stream, disable=stream is None,
                unit="B", unit_scale=True, unit_divisor=1000, mininterval=0.1,
                dynamic_ncols=True, leave=True,
                bar_format="{percentage:5.1f}%|{bar}| {n_fmt}/{total_fmt} "
                           "[{elapsed}<{remaining}, {rate_fmt}]" if total else None)
