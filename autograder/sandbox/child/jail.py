"""Fence the student process in, before any student code runs.

Runs in the student process (autograder/sandbox/child/worker.py), right after NumPy and the
grader's own child modules are imported and before the submission is on sys.path:

    submission_dir, status = jail.enter(settings, submission_dir, keep_fds)

settings["mode"] (chosen by the grader's autograder/sandbox/isolation.py, by capability):
- "bwrap": bubblewrap has already built the student's root (autograder/sandbox/bwrap.py); copy
  the read-only submission into its size-capped tmpfs and work there.
- "jail" (the fallback where bwrap is missing; Linux, as root or with unprivileged user
  namespaces): unshare mount, PID, network, IPC and UTS namespaces, then build the same
  allow-list root as bwrap: a tmpfs holding only settings["view"] (the interpreter,
  NumPy, their libraries) bound read-only, a copy of the submission on a size-capped
  tmpfs at /submission, a private /tmp and /dev/shm, /dev/null & co., a /proc of the
  new PID namespace; pivot_root into it, detach the host's root, drop to uid/gid.
- "user": root without namespaces (e.g. Gradescope's containers): only drop to the
  unprivileged uid, which reads what is world-readable (see isolation.py), and write
  no byte to any file (its files would be the host's: _write_nothing).
- "none": nothing (the student's own self-check, or --no-isolation).

In "jail" and "user" the parent stays behind as a tiny supervisor (the grader's user):
it kills whatever the student left when the student process ends, and exits with its
status. Nothing here needs more than the standard library; on a machine without
`resource`, `fork` or /proc (the student's laptop) the modes that need them are never
chosen, and this module still imports.
"""
import ctypes
import os
import platform
import shutil
import signal
import sys

try:
    import resource
except ImportError:  # Windows: no rlimits
    resource = None

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 4096, 16384, 1 << 18, 2
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 36, 38, 22
SECCOMP_SET_MODE_FILTER, SECCOMP_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC = 1, 2, 1
SYS_SECCOMP = {"x86_64": 317, "aarch64": 277, "riscv64": 277, "ppc64le": 358,
               "s390x": 348, "i686": 354, "armv7l": 383}
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203,
                  "s390x": 217, "i686": 217, "armv7l": 218}
SUBMISSION_MOUNT = "/submission"
BWRAP_ORIGINAL = "/.submission"  # where autograder/sandbox/bwrap.py binds the grader's copy
NEW_ROOT = "/tmp"  # mount point of the new root's tmpfs (any existing folder would do)
DEVICES = ("null", "zero", "full", "random", "urandom")
PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus")

_libc = None


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _call(name, *args) -> bool:
    try:
        return getattr(_c(), name)(*args) == 0
    except (OSError, AttributeError, TypeError):
        return False


def _mount(source, target, fstype, flags, data=None) -> bool:
    def enc(s):
        return None if s is None else os.fsencode(s)

    return _call("mount", enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags),
                 enc(data))


def enter(settings: dict, submission_dir: str, keep_fds: tuple) -> tuple[str, str]:
    """(the submission folder as the student process sees it, what was applied)."""
    for name in settings.get("preload", ()):
        try:
            __import__(name)
        except BaseException:  # noqa: BLE001  a missing optional module is fine
            pass
    step = ENTER.get(settings.get("mode", "none"))
    if step is None or not hasattr(os, "fork"):
        return submission_dir, "none"
    submission_dir, status = step(settings, submission_dir, keep_fds)
    return submission_dir, status + _filter(settings)


def _enter_bwrap(settings: dict, submission_dir: str, keep_fds: tuple) -> tuple[str, str]:
    """bubblewrap built the root: work in a copy of the read-only submission."""
    _copy_tree(BWRAP_ORIGINAL, SUBMISSION_MOUNT)
    _call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    return SUBMISSION_MOUNT, "bwrap"


def _enter_jail(settings: dict, submission_dir: str, keep_fds: tuple) -> tuple[str, str]:
    """Our own root (namespaces + pivot_root), then the uid switch."""
    return _fence(settings, submission_dir, keep_fds, _unshare())


def _enter_user(settings: dict, submission_dir: str, keep_fds: tuple) -> tuple[str, str]:
    """Only the uid switch, and not one byte written to any file."""
    return _fence(settings, submission_dir, keep_fds, False)


def _fence(settings: dict, submission_dir: str, keep_fds: tuple,
           isolated: bool) -> tuple[str, str]:
    """Fork: the parent stays as the supervisor; the child builds the root (isolated:
    in the namespaces just made), drops to the student's uid and goes on."""
    _call("prctl", PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    sources = _open_sources(settings, submission_dir) if isolated else {}
    pid = os.fork()
    if pid:
        for fd in sources.values():
            os.close(fd)
        _supervise(pid, keep_fds)  # never returns
    status = []
    if isolated:
        submission_dir = _build_root(settings, sources)
        status.append("jail")
    if _drop_privileges(settings):
        status.append(f"uid {os.getuid()}")
    if not isolated:
        _write_nothing(keep_fds)
        status.append("no files")
    return submission_dir, "+".join(status) or "none"


# mode (autograder/sandbox/backends/) -> its steps in the student process; others: none
ENTER = {"bwrap": _enter_bwrap, "jail": _enter_jail, "user": _enter_user}


def _unshare() -> bool:
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    if os.geteuid() == 0:
        return _call("unshare", flags)
    uid, gid = os.getuid(), os.getgid()
    if not _call("unshare", flags | CLONE_NEWUSER):
        return False
    try:  # map our own ids, so that what we create is ours
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                           ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    except OSError:
        return False
    return True


def _open_sources(settings: dict, submission_dir: str) -> dict:
    """O_PATH descriptors of everything to bind, opened before anything is covered."""
    sources = {}
    for path in [*settings["view"]["binds"], *(f"/dev/{d}" for d in DEVICES)]:
        try:
            sources[path] = os.open(path, os.O_PATH)
        except OSError:
            pass
    sources[BWRAP_ORIGINAL] = os.open(submission_dir, os.O_RDONLY | os.O_DIRECTORY)
    return sources


def _build_root(settings: dict, sources: dict) -> str:
    """In the new namespaces (we are PID 1): the allow-list root, then pivot into it."""
    size = int(settings.get("tmpfs_bytes", 32 << 20))
    new = NEW_ROOT
    _require(_mount("none", "/", None, MS_REC | MS_PRIVATE), "make / private")
    _require(_mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=755"),
             "mount the new root")
    for path in ("/tmp", "/dev/shm", SUBMISSION_MOUNT):  # first: binds under /tmp go on top
        os.makedirs(new + path, mode=0o755, exist_ok=True)
        _require(_mount("tmpfs", new + path, "tmpfs", MS_NOSUID | MS_NODEV,
                        f"size={size},mode=1777"), f"mount a tmpfs on {path}")
    for path, fd in sources.items():
        if path != BWRAP_ORIGINAL:  # devices stay writable (/dev/null), the rest read-only
            _bind(fd, new + path, read_only=not path.startswith("/dev/"))
    for link, target in settings["view"]["links"]:
        os.makedirs(os.path.dirname(new + link), mode=0o755, exist_ok=True)
        if not os.path.lexists(new + link):
            os.symlink(target, new + link)
    os.makedirs(new + "/proc", mode=0o755, exist_ok=True)
    _require(_mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC),
             "mount /proc")
    for path in PROC_READ_ONLY:  # the host's kernel settings, as bwrap leaves them
        if os.path.exists(new + path):
            _require(_mount(new + path, new + path, None, MS_BIND | MS_REC), f"bind {path}")
            _require(_mount(None, new + path, None, MS_REMOUNT | MS_BIND | MS_RDONLY
                            | MS_NOSUID | MS_NODEV | MS_NOEXEC), f"make {path} read-only")
    _copy_tree(f"/proc/self/fd/{sources[BWRAP_ORIGINAL]}", new + SUBMISSION_MOUNT)
    for fd in sources.values():
        os.close(fd)
    uid, gid = settings.get("uid"), settings.get("gid")
    if uid is not None and os.geteuid() == 0:
        for folder, _, files in os.walk(new + SUBMISSION_MOUNT):
            for name in [folder, *(os.path.join(folder, f) for f in files)]:
                os.lchown(name, uid, gid if gid is not None else uid)
    _pivot(new)
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(SUBMISSION_MOUNT)
    return SUBMISSION_MOUNT


def _bind(fd: int, target: str, read_only: bool) -> None:
    """Bind what fd names at target (then make that mount read-only)."""
    is_dir = os.path.isdir(f"/proc/self/fd/{fd}")
    os.makedirs(target if is_dir else os.path.dirname(target), mode=0o755, exist_ok=True)
    if not is_dir and not os.path.exists(target):
        open(target, "w").close()
    _require(_mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC), f"bind {target}")
    if not read_only:
        return
    locked = os.statvfs(target).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)  # ST_* = MS_*
    _require(_mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | locked),
             f"make {target} read-only")


def _pivot(new: str) -> None:
    """Make `new` the root and detach the host's (pivot_root(".", ".") + umount)."""
    os.chdir(new)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is not None and _call("syscall", ctypes.c_long(number), b".", b"."):
        _require(_call("umount2", b".", MNT_DETACH), "detach the old root")
    else:  # unknown architecture: chroot (no way out once capabilities are gone)
        os.chroot(".")
    os.chdir("/")


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise OSError(ctypes.get_errno(), f"jail: could not {what}")


def _copy_tree(source: str, target: str) -> None:
    """Copy the submission (plain files and folders: submission.prepare made it so)."""
    for name in os.listdir(source):
        src, dst = os.path.join(source, name), os.path.join(target, name)
        if os.path.isdir(src) and not os.path.islink(src):
            os.mkdir(dst)
            _copy_tree(src, dst)
        elif os.path.isfile(src) and not os.path.islink(src):
            shutil.copyfile(src, dst)


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
    if nproc and switched and resource is not None:  # root ignores RLIMIT_NPROC
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    return switched


class _SockFprog(ctypes.Structure):  # struct sock_fprog
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _filter(settings: dict) -> str:
    """Load the grader's syscall filter (autograder/sandbox/syscall_filter.py), last: '+filter'."""
    program = settings.get("syscall_filter")
    if not program:
        return ""
    load_filter(bytes.fromhex(program))
    return "+filter"


def load_filter(program: bytes) -> None:
    """Apply a classic BPF program (no_new_privs is set) to every thread of this
    process; raise OSError where it cannot be (the grader asked for it: no filter is
    no grading)."""
    _call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    code = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(code, ctypes.c_void_p))
    number = SYS_SECCOMP.get(platform.machine())
    if number is not None and _call("syscall", ctypes.c_long(number),
                                    ctypes.c_long(SECCOMP_SET_MODE_FILTER),
                                    ctypes.c_long(SECCOMP_FILTER_FLAG_TSYNC),
                                    ctypes.byref(prog)):
        return
    if len(os.listdir("/proc/self/task")) == 1 and _call(  # this thread: all there is
            "prctl", PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0):
        return
    raise OSError(ctypes.get_errno(), "jail: could not load the syscall filter")


def _write_nothing(keep_fds: tuple) -> None:
    """Without a private root (mode "user") every file the student writes lands on the
    host's disks: its folder, and /tmp, /var/tmp, /dev/shm (memory), which are shared
    with the host and outlive the grading. So not one byte may be written to any file
    (RLIMIT_FSIZE 0: the worker ignores SIGXFSZ, a write fails with EFBIG; ftruncate and
    fallocate are refused too), and the student's prints go to /dev/null rather than to
    the grader's log file. The empty entries it can still make, the grader removes
    (backends/user.py, remove_student_leftovers)."""
    null = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        if fd not in keep_fds:
            os.dup2(null, fd)
    os.close(null)
    if resource is not None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def children() -> set[int]:
    """Process ids whose parent is this process (from /proc; empty where there is no
    /proc). Also used by the grader's sandbox.py to find what a submission detached."""
    me, found = str(os.getpid()), set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
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


def _probe(settings_json: str, folder: str) -> None:
    """`python jail.py --probe SETTINGS EMPTY_FOLDER`: exit 0 when the jail works here."""
    import json

    settings = json.loads(settings_json)
    try:
        _, status = enter(settings, folder, ())
    except OSError as exc:
        print(exc, file=sys.stderr)
        os._exit(3)
    ok = status.startswith("jail") and not os.path.exists(folder)  # the host is out of sight
    os._exit(0 if ok else 4)


def _probe_filter(program_hex: str) -> None:
    """`python jail.py --filter-probe HEX`: exit 0 when the filter loads here and refuses
    a socket."""
    import socket

    load_filter(bytes.fromhex(program_hex))
    try:
        socket.socket(socket.AF_UNIX).close()
    except PermissionError:
        os._exit(0)
    os._exit(5)


if __name__ == "__main__" and sys.argv[1:2] == ["--probe"]:
    _probe(sys.argv[2], sys.argv[3])
if __name__ == "__main__" and sys.argv[1:2] == ["--filter-probe"]:
    _probe_filter(sys.argv[2])
