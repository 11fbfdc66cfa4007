"""The student's root, built by bubblewrap (https://github.com/containers/bubblewrap).

    argv = bwrap.command(settings, [python, worker.py, ...])   # bwrap ... -- python ...

The root is a fresh tmpfs holding only: the allow-list (allowlist.py) read-only, a copy
of the submission on its own size-capped tmpfs (/submission, copied there by
child/jail.py from the read-only /.submission), a private size-capped /tmp and
/dev/shm, a minimal /dev, a /proc of the sandbox's own PID namespace (/proc/sys
read-only) and no /sys. No network (a network namespace with loopback only), no IPC
or UTS of the host, a new session (no terminal injection), no capabilities, and
everything dies with the grader.

Who it runs as (isolation.py decides): never root, in any mode. The sandbox's user
maps onto an unprivileged uid outside, so that a write to a host sysctl
(/proc/sys/fs/file-max, kernel.core_pattern) or to any root-owned file fails there too:
- the grader is root: bwrap is started as the student user (`as_student`; uid 65534 or
  one of the configured range), unprivileged, so the sandbox's uid is that uid outside.
  Allow-listed paths that user cannot reach (a Python under /root, mode 700) are first
  made reachable in a private mount namespace of bwrap's own process (`student_preexec`:
  a small tmpfs over the untraversable ancestor, holding a bind of only that path,
  bound through its O_PATH descriptor, so that nothing is resolved as the student);
- the grader is not root: bwrap runs as the grader's user and maps the sandbox onto it
  (the allow-list hides the grader's files; see the README on what this leaves).
"""
import ctypes
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from functools import lru_cache

SUBMISSION = "/submission"  # the copy the student works in (tmpfs)
ORIGINAL = "/.submission"  # the grader's prepared folder, read-only, copied from
TMPFS = ("/tmp", "/dev/shm")
# the host's kernel settings: read-only in the sandbox, whoever its user maps onto
PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus")


def executable() -> str | None:
    """bwrap's path (also where PATH is minimal), or None."""
    return shutil.which("bwrap") or next(
        (p for p in ("/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap")
         if os.access(p, os.X_OK)), None)


def command(settings: dict, inner: list[str], submission_dir: str) -> list[str]:
    """The bwrap command line that runs `inner` in the student's root."""
    view, sizes = settings["view"], settings["tmpfs_bytes"]
    argv = [settings["bwrap"], "--unshare-user", "--unshare-pid", "--unshare-net",
            "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent",
            "--new-session", "--cap-drop", "ALL", "--uid", str(settings["sandbox_uid"]),
            "--gid", str(settings["sandbox_uid"]), "--hostname", "student"]
    argv += ["--dev", "/dev", "--proc", "/proc"]
    for path in PROC_READ_ONLY:  # bwrap covers these only where it could write them
        argv += ["--ro-bind-try", path, path]
    for path in (*TMPFS, SUBMISSION):  # first: allow-listed paths under /tmp go on top
        argv += ["--perms", "1777", "--size", str(sizes), "--tmpfs", path]
    for path in view["binds"]:
        argv += ["--ro-bind", path, path]
    for link, target in view["links"]:
        argv += ["--symlink", target, link]
    argv += ["--ro-bind", submission_dir, ORIGINAL, "--remount-ro", "/", "--chdir", "/",
             "--"]
    return argv + inner


@lru_cache(maxsize=None)
def works(settings_key: tuple) -> str:
    """'' when bwrap runs the interpreter with these settings here; else why not."""
    settings = json.loads(settings_key[0])
    info, info_w = os.pipe()  # bwrap writes {"child-pid": ...} there
    probe = command(settings, [sys.executable, "-I", "-S", "-c", "import sys"], "/")
    probe[1:1] = ["--info-fd", str(info_w)]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=20, pass_fds=(info_w,),
                              preexec_fn=student_preexec(settings, "/"))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not run: {exc}"
    finally:
        os.close(info_w)
        os.set_blocking(info, False)  # written before the command starts; never wait
        with os.fdopen(info) as f:
            try:
                text = f.read() or ""
            except BlockingIOError:
                text = ""
    _reap(text)
    if done.returncode != 0:
        return f"bwrap failed: {done.stderr.decode(errors='replace').strip()[-300:]}"
    return ""


def _reap(info: str) -> None:
    """bwrap may exit before the first process of its sandbox has: that one then becomes
    the child of the nearest child subreaper, which the grader is (sandbox.py). Wait for
    it, so that no zombie of the probe is left among the grader's children."""
    try:
        pid = int(json.loads(info)["child-pid"])
    except (ValueError, KeyError, TypeError):
        return
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return  # gone
        if parent != os.getpid():
            return  # bwrap has exited (subprocess.run waited): someone else reaps it
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:
            return
        time.sleep(0.002)


CLONE_NEWNS, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = \
    0x20000, 2, 4, 4096, 16384, 1 << 18


def student_preexec(settings: dict, submission_dir: str):
    """None, or what runs as root between fork and exec of bwrap: make every path bwrap
    binds reachable by the student user (hidden_ancestors), then become that user."""
    if not settings.get("as_student"):
        return None
    uid = int(settings["sandbox_uid"])
    gid = int(settings.get("sandbox_gid", uid))
    paths = [*settings["view"]["binds"], submission_dir]
    cover = hidden_ancestors(paths)  # {ancestor: [paths below it]}, found before the fork

    def drop() -> None:
        if cover:
            _reveal(cover)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        if os.getuid() == 0 or os.geteuid() == 0:  # never exec bwrap as root
            raise OSError("bwrap: could not drop to the student user")
    return drop


def hidden_ancestors(paths) -> dict[str, list[str]]:
    """{the highest ancestor a user of no group of its owner cannot enter: [the paths
    below it]} (e.g. {"/root": ["/root/.pyenv/versions/3.11.7"]})."""
    cover: dict[str, list[str]] = {}
    for path in paths:
        parts = os.path.abspath(path).split(os.sep)[1:]
        for depth in range(1, len(parts)):
            ancestor = os.sep + os.path.join(*parts[:depth])
            try:
                mode = os.stat(ancestor).st_mode
            except OSError:
                break
            if not mode & stat.S_IXOTH:
                cover.setdefault(ancestor, []).append(os.path.abspath(path))
                break
    return cover


def _reveal(cover: dict) -> None:
    """In a private mount namespace (of this process only, still root): a tmpfs of mode
    755 over each hidden ancestor, holding at its place each path below it, bound from an
    O_PATH descriptor opened before the cover (the kernel follows /proc/self/fd/N: no
    path is resolved again)."""
    libc = ctypes.CDLL(None, use_errno=True)

    def mount(source, target, fstype, flags, data=None) -> None:
        enc = [None if v is None else os.fsencode(v) for v in (source, target, fstype, data)]
        if libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]) != 0:
            raise OSError(ctypes.get_errno(), f"bwrap preparation: mount on {target}")
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "bwrap preparation: unshare(CLONE_NEWNS)")
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    sources = {path: os.open(path, os.O_PATH) for paths in cover.values() for path in paths}
    for ancestor in cover:
        mount("tmpfs", ancestor, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    for path, fd in sources.items():
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, mode=0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
