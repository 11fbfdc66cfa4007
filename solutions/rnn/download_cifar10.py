"""Download CIFAR-10 (python version) to where the notebook looks for it.
下载 CIFAR-10（python 版本）到 notebook 读取数据的位置。

    python download_cifar10.py                        the official archive (163 MB)
    python download_cifar10.py --url PATH_OR_URL      a copy you already have
    python download_cifar10.py --url ... --md5 MD5    another archive in the same format

It checks the archive's MD5 before unpacking, unpacks it into
datasets/cifar-10-batches-py next to this file (or into $CIFAR10_DIR when that is set:
the folder data_utils.default_cifar_dir() reads) and never leaves half a folder behind.
Only the standard library: it runs before anything else is installed.
"""
import argparse
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_MD5 = "c58f30108f718f92721af3b95e74349a"  # published on the CIFAR-10 page
FOLDER = "cifar-10-batches-py"  # the archive's one top-level folder
REQUIRED = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
CHUNK = 1 << 20  # bytes read at a time: one progress step


class DownloadFailed(Exception):
    """Anything that stops the download; the message says what to do."""


def default_dest() -> Path:
    """$CIFAR10_DIR, else datasets/cifar-10-batches-py here (as data_utils.default_cifar_dir)."""
    env = os.environ.get("CIFAR10_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parent / "datasets" / FOLDER


def fetch(url: str, target: Path) -> Path:
    """The archive at `url` (an http(s) URL, or a local file: used where it is)."""
    path = _local_file(url)
    if path is not None:
        if not path.is_file():
            raise DownloadFailed(f"{path} not found: give --url the path of the archive")
        return path
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(CHUNK):
                out.write(chunk)
                done += len(chunk)
                share = f" ({100 * done / total:.0f} %)" if total else ""
                print(f"\rdownloading {url}: {done / 1e6:.0f} / {total / 1e6:.0f} MB{share}",
                      end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    except OSError as err:
        target.unlink(missing_ok=True)
        raise DownloadFailed(f"cannot download {url} ({err}).\n{manual_steps()}") from None
    return target


def _local_file(url: str) -> Path | None:
    """The file a path or file:// URL names; None for a download."""
    if url.startswith("file://"):
        return Path(urllib.request.url2pathname(url[len("file://"):]))
    return None if "://" in url else Path(url).expanduser()


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def unpack(archive: Path, dest: Path) -> None:
    """Extract FOLDER from the archive into a scratch folder, then rename it to `dest`."""
    scratch = Path(tempfile.mkdtemp(prefix=".cifar-unpacking-", dir=dest.parent))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                members = tar.getmembers()
                for member in members:  # regular files and folders inside FOLDER only
                    parts = Path(member.name).parts
                    if (not (member.isfile() or member.isdir()) or os.path.isabs(member.name)
                            or ".." in parts or parts[:1] != (FOLDER,)):
                        raise DownloadFailed(f"{archive}: unexpected entry {member.name!r}")
                # Python's own checks too, where it has them (3.10.12+, 3.11.4+, 3.12+)
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(scratch, members, **safe)
        except (tarfile.TarError, EOFError) as err:
            raise DownloadFailed(f"cannot unpack {archive}: {err}") from None
        missing = [name for name in REQUIRED if not (scratch / FOLDER / name).is_file()]
        if missing:
            raise DownloadFailed(f"{archive} is not CIFAR-10: {FOLDER}/ lacks "
                                 f"{', '.join(missing)}")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(scratch / FOLDER, dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def manual_steps() -> str:
    return (f"By hand: download {CIFAR_URL} (MD5 {CIFAR_MD5}) and unpack it so that\n"
            f"{default_dest()} holds data_batch_1 ... data_batch_5 and test_batch,\n"
            f"or run: python download_cifar10.py --url PATH/TO/cifar-10-python.tar.gz")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Download CIFAR-10 for the RNN notebook.")
    parser.add_argument("--url", default=CIFAR_URL, help="URL or path of the .tar.gz archive")
    parser.add_argument("--md5", default=CIFAR_MD5, help="the archive's expected MD5")
    parser.add_argument("--dest", type=Path, default=None,
                        help=f"the {FOLDER} folder to create (default: {default_dest()})")
    args = parser.parse_args(argv)
    dest = args.dest or default_dest()
    if all((dest / name).is_file() for name in REQUIRED):
        print(f"CIFAR-10 is already in {dest}")
        return 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    download = dest.parent / "cifar-10-python.tar.gz.part"
    try:
        archive = fetch(args.url, download)
        actual = md5_of(archive)
        if actual != args.md5.lower():
            raise DownloadFailed(f"{archive} has MD5 {actual}, expected {args.md5.lower()}: "
                                 "it is not that archive (for another archive in the same "
                                 "format, give its MD5 with --md5). Nothing was unpacked.")
        unpack(archive, dest)
    except DownloadFailed as err:
        print(f"download_cifar10.py: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndownload_cifar10.py: interrupted; run it again to start over", file=sys.stderr)
        return 130
    finally:
        download.unlink(missing_ok=True)  # the archive is not needed once unpacked
    print(f"CIFAR-10 is in {dest}  数据已就绪")
    return 0


if __name__ == "__main__":
    sys.exit(main())
