"""The grading seed: a secret of the course, mixed with the submission's content, so
re-grading gives the same cases but nobody can predict them.

The secret is RNN_GRADER_SECRET when set, else the file autograder/secret.key, which is
never committed (.gitignore): the first grading on a machine without it creates one (32
random bytes as hex, mode 0600) and says so once, with how to share it. Machines that
must give the same grades (an instructor's laptop and the course server; Gradescope gets
it inside the autograder zip) need the same secret. The release and its public cases
never read it.
"""
import hashlib
import os
import secrets
from pathlib import Path

SECRET_FILE = Path(__file__).resolve().parent / "secret.key"
ENVIRONMENT = "RNN_GRADER_SECRET"
_created: list[Path] = []  # secret files this process created


def load_secret() -> bytes:
    """RNN_GRADER_SECRET if set (and not empty), else secret.key, created when missing."""
    from_env = os.environ.get(ENVIRONMENT)
    if from_env:
        return from_env.encode()
    path = SECRET_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        _create(path)
        return _read(path)


def existing_secret() -> bytes | None:
    """The secret in force, or None when there is none yet (never creates one)."""
    from_env = os.environ.get(ENVIRONMENT)
    if from_env:
        return from_env.encode()
    try:
        return _read(SECRET_FILE)
    except FileNotFoundError:
        return None


def creation_notice() -> str:
    """One line when this process created the secret file, else ""."""
    if not _created:
        return ""
    path = _created[-1]
    return (f"Created the grading secret {path} (it seeds the hidden cases). To grade with "
            f"the same cases on another machine, copy it there (scp, mode 600) or set "
            f"{ENVIRONMENT} to its content; keep it out of git.")


def _read(path: Path) -> bytes:
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise ValueError(f"{path} is empty: delete it to have a new secret made, or set "
                         f"{ENVIRONMENT}")
    return secret.encode()


def _create(path: Path) -> None:
    """Write a new secret at path, whole or not at all: a temporary file (0600), then a
    hard link, which fails when another process made one first (theirs is then used)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
        _created.append(path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def grading_seed(secret: bytes, fingerprint: str) -> int:
    digest = hashlib.sha256(secret + b"\0" + fingerprint.encode()).digest()
    return int.from_bytes(digest[:8], "little")
