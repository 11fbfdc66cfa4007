"""Fence the student process in, before any student code runs (Linux; best effort).

Runs in the student process (autograder/child/worker.py), right after NumPy and the
grader's own child modules are imported and before the submission is on sys.path:

    settings = {"uid": 65534 | None, "gid": ..., "namespaces": bool, "hide": [paths],
                "keep": [paths the interpreter needs], "nproc": int,
                "preload": [module names]}
    submission_dir, status = jail.enter(settings, submission_dir, keep_fds)

1. preload: stdlib modules imported now, while they can still be read (when the
   unprivileged user cannot read the interpreter's files, as with a Python under /root).
2. namespaces: unshare mount, PID and network namespaces (plus a user namespace when the
   grader is not root). The student then sees no other process (it cannot signal the
   grader), has no network (not even loopback), and in its private mount table the
   paths in `hide` (solutions, the grader's repository, /tmp, /dev/shm) are empty; its
   submission folder is mounted back at /tmp/submission. Every process the submission
   starts lives in the PID namespace and dies with it.
3. fork: the parent stays behind as a tiny supervisor (still the grader's user): it is
   what the student sees as its parent, it kills whatever the student left behind when
   the student process ends, and it exits with the student process's status. The
   child goes on: drops to `uid`/`gid`, no new privileges, RLIMIT_NPROC, and returns.

Any step the kernel refuses is skipped: the grader's process-group kill, deadlines and
rlimits still apply (see sandbox.py).
"""
import ctypes
import os
import resource
import signal
import sys

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38
SUBMISSION_MOUNT = "/tmp/submission"

_libc = None


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _call(name, *args) -> bool:
    try:
        return getattr(_c(), name)(*args) == 0
    except (OSError, AttributeError):
        return False


def _mount(source, target, fstype, flags, data=None) -> bool:
    enc = (lambda s: None if s is None else os.fsencode(s))
    return _call("mount", enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags),
                 enc(data))


def enter(settings: dict, submission_dir: str, keep_fds: tuple) -> tuple[str, str]:
    """(the submission folder as the student process sees it, what was applied)."""
    for name in settings.get("preload", ()):
        try:
            __import__(name)
        except BaseException:  # noqa: BLE001  a missing optional module is fine
            pass
    isolated = False
    if settings.get("namespaces"):
        flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET
        if os.geteuid() != 0:
            flags |= CLONE_NEWUSER
        isolated = _call("unshare", flags)
    _call("prctl", PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    folder_fd = os.open(submission_dir, os.O_RDONLY | os.O_DIRECTORY)
    pid = os.fork()
    if pid:
        os.close(folder_fd)
        _supervise(pid, keep_fds)  # never returns
    status = []
    if isolated:
        submission_dir = _private_view(settings, submission_dir, folder_fd)
        status.append("namespaces")
    os.close(folder_fd)
    if _drop_privileges(settings):
        status.append(f"uid {os.getuid()}")
    return submission_dir, "+".join(status) or "none"


def _private_view(settings, submission_dir, folder_fd) -> str:
    """In the new mount namespace: fresh /proc, hidden paths, submission at /tmp/submission."""
    if not _mount("none", "/", None, MS_REC | MS_PRIVATE):
        return submission_dir
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
    for path in settings.get("hide", ()):
        if os.path.isdir(path) and not os.path.islink(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
        elif os.path.isfile(path):
            _mount("/dev/null", path, None, MS_BIND)
    # /tmp is one of the hidden paths: give the submission a fresh, private /tmp, with
    # back in it what the interpreter needs from there (e.g. a .venv in a clone in /tmp)
    kept = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in settings.get("keep", ())
            if path.startswith("/tmp/") and os.path.isdir(path)]
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    for path, fd in kept:
        try:
            os.makedirs(path, mode=0o755, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        finally:
            os.close(fd)
    try:
        os.mkdir(SUBMISSION_MOUNT)
    except OSError:
        return submission_dir
    if _mount(f"/proc/self/fd/{folder_fd}", SUBMISSION_MOUNT, None, MS_BIND):
        return SUBMISSION_MOUNT
    return submission_dir


def _drop_privileges(settings) -> bool:
    uid, gid = settings.get("uid"), settings.get("gid")
    switched = False
    if uid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(gid if gid is not None else uid)
        os.setuid(uid)
        switched = True
    _call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    nproc = settings.get("nproc")
    if nproc and switched:  # root ignores RLIMIT_NPROC; the grader's user shares it
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    return switched


def children() -> set[int]:
    """Process ids whose parent is this process (read from /proc). Also used by the
    grader's sandbox.py to find what a submission detached."""
    me, found = str(os.getpid()), set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[1] == me:  # the PPid field
                        found.add(int(entry))
            except (OSError, IndexError):
                continue
    return found


def _kill_children() -> None:
    for _ in range(50):
        pids = children()
        if not pids:
            return
        for child in pids:
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass
        for child in pids:
            try:
                os.waitpid(child, 0)
            except ChildProcessError:
                pass


def _supervise(pid: int, keep_fds: tuple) -> None:
    """Wait for the student process; then kill what it left and exit with its status.
    SIGTERM (from the grader) kills the student process first."""
    for fd in keep_fds:  # the student process owns the pipes: EOF must follow its death
        try:
            os.close(fd)
        except OSError:
            pass

    def stop(signum, frame):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            status = 0
            break
    _kill_children()
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
