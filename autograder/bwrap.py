"""The student's root, built by bubblewrap (https://github.com/containers/bubblewrap).

    argv = bwrap.command(settings, [python, worker.py, ...])   # bwrap ... -- python ...

The root is a fresh tmpfs holding only: the allow-list (allowlist.py) read-only, a copy
of the submission on its own size-capped tmpfs (/submission, copied there by
child/jail.py from the read-only /.submission), a private size-capped /tmp and
/dev/shm, a minimal /dev, and a /proc of the sandbox's own PID namespace. No network
(a network namespace with loopback only), no IPC or UTS of the host, a new session (no
terminal injection), no capabilities, and everything dies with the grader.

Who it runs as (isolation.py decides, by what the machine allows):
- `as_student`: bwrap is started as the unprivileged student user (uid 65534) and makes
  an unprivileged user namespace; needs every allow-listed path to be reachable by
  that user (an interpreter under /root is not);
- otherwise, as root: bwrap maps the sandbox's uid 65534 onto root outside, with no
  capability left (the allow-list is then what keeps the host out of reach).
"""
import json
import os
import shutil
import subprocess
import sys
import time
from functools import lru_cache

SUBMISSION = "/submission"  # the copy the student works in (tmpfs)
ORIGINAL = "/.submission"  # the grader's prepared folder, read-only, copied from
TMPFS = ("/tmp", "/dev/shm")


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
                              preexec_fn=_as_student(settings))
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


def _as_student(settings: dict):
    if not settings.get("as_student"):
        return None
    uid = settings["sandbox_uid"]

    def drop():
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    return drop
