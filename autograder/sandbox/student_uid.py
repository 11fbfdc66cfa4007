"""A uid of its own for the student processes of each grading (as root).

    uid = lease(first=2_000_000_000, count=1000)   # this thread's, until the process ends

Two gradings side by side (`grade-all --jobs 2`, two `grade` commands, a Dask worker
grading in several threads) never share a student uid, so neither can signal, trace or
read the other's student process, and what one leaves in /tmp or System V IPC is never
the other's. A uid is taken when it is in no account (/etc/passwd), no process runs as
it, this process's user namespace maps it, and its lock file (LOCK_DIRS, root's own)
can be locked; the lock is held by an open file of this process, so it is released when
the process ends, however it ends. A process forked from a holder takes its own.
"""
import fcntl
import os
import tempfile
import threading

_lock = threading.Lock()
LOCK_DIRS = ("/run/rnn-grader-uids", os.path.join(tempfile.gettempdir(), "rnn-grader-uids"))
# (pid, thread) -> (uid, the locked file's descriptor): a grading runs in one thread,
# and a Dask worker may run several gradings at once, one per thread
_held: dict[tuple[int, int], tuple[int, int]] = {}


class NoStudentUid(Exception):
    """Every uid of the range is taken or unusable here."""


def lease(first: int, count: int) -> int:
    """The student uid of this thread of this process (the same on every call)."""
    key = (os.getpid(), threading.get_ident())
    with _lock:
        for other in [k for k in _held if k[0] != key[0]]:
            del _held[other]  # inherited from the process this one was forked from
        if key not in _held:
            _held[key] = _take(first, count)
        return _held[key][0]


def _take(first: int, count: int) -> tuple[int, int]:
    folder = _lock_dir()
    busy = _uids_in_use()
    for uid in range(first, first + count):
        if uid in busy or not _mapped(uid):
            continue
        fd = os.open(os.path.join(folder, str(uid)), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW,
                     0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return uid, fd
    raise NoStudentUid(f"no free student uid in {first}..{first + count - 1} (config "
                       f"student_uids): each grading process running here holds one")


def _lock_dir() -> str:
    """A folder only this (root) user can write, for the lock files."""
    for folder in LOCK_DIRS:
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            info = os.lstat(folder)
        except OSError:
            continue
        if info.st_uid == os.geteuid() and not info.st_mode & 0o077 \
                and os.path.isdir(folder) and not os.path.islink(folder):
            return folder
    raise NoStudentUid(f"no private folder for the uid locks ({', '.join(LOCK_DIRS)})")


def _uids_in_use() -> set[int]:
    """Uids of the accounts of /etc/passwd and of every running process."""
    used = set()
    try:
        with open("/etc/passwd") as f:
            used |= {int(line.split(":")[2]) for line in f if line.count(":") >= 3
                     and line.split(":")[2].isdigit()}
    except OSError:
        pass
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            used.add(os.stat(f"/proc/{entry}").st_uid)
        except (OSError, ValueError):
            continue
    return used


def _mapped(uid: int) -> bool:
    """Does this process's user namespace have that uid (a container may map few)?"""
    try:
        with open("/proc/self/uid_map") as f:
            rows = [tuple(int(v) for v in line.split()) for line in f if line.strip()]
    except (OSError, ValueError):
        return True
    return any(inside <= uid < inside + length for inside, _, length in rows)
