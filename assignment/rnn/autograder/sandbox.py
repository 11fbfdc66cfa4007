"""The grader's side of the student process: start it with limits, ask, wait, kill.

The student's code runs only in that process (autograder/child/worker.py). It gets a
minimal environment, no stdin, its own session (so its whole process group can be
killed), limits on memory, CPU, file size and core dumps, and its output goes to a
capped log file. Replies are read with a deadline and decoded by wire.decode, which
never executes anything.
"""
import ctypes
import os
import resource
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.child import wire

CHILD_DIR = Path(__file__).resolve().parent / "child"


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 1 << 30  # address space of the student process
    cpu_seconds: int = 120  # CPU time of the whole student process
    file_bytes: int = 16 << 20  # largest file (and log) the student may write
    reply_bytes: int = 64 << 20  # largest reply the grader reads


class SandboxError(Exception):
    """The student process did not answer normally."""


class CallTimeout(SandboxError):
    pass


class ProcessDied(SandboxError):
    pass


class StudentProcess:
    """One student process serving requests until closed (or killed after a failure)."""

    def __init__(self, submission_dir: Path, limits: Limits = Limits()):
        self.submission_dir, self.limits = Path(submission_dir), limits
        self.proc = None

    def start(self) -> None:
        _become_subreaper()
        self._children_before = _children()  # the grader's own, left alone by kill()
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        log = open(self.submission_dir / ".student-output.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-B", str(CHILD_DIR / "worker.py"),
             str(self.submission_dir), str(to_child_r), str(from_child_w)],
            cwd=self.submission_dir, env=self._environment(), stdin=subprocess.DEVNULL,
            stdout=log, stderr=log, pass_fds=(to_child_r, from_child_w),
            start_new_session=True, preexec_fn=self._apply_limits)
        os.close(to_child_r)
        os.close(from_child_w)
        log.close()

    def _environment(self) -> dict:
        return {"PATH": "/usr/bin:/bin", "HOME": str(self.submission_dir), "LANG": "C.UTF-8",
                "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}

    def _apply_limits(self) -> None:  # runs in the child between fork and exec
        limits = self.limits
        for kind, value in ((resource.RLIMIT_AS, limits.memory_bytes),
                            (resource.RLIMIT_CPU, limits.cpu_seconds),
                            (resource.RLIMIT_FSIZE, limits.file_bytes),
                            (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(kind, (value, value))

    def request(self, op: str, payload, timeout: float):
        """Send one request and return the decoded reply; raise on timeout or death."""
        if self.proc is None:
            self.start()
        message = wire.encode({"op": op, "payload": payload})
        try:
            os.write(self._to_child, len(message).to_bytes(8, "little"))
            _write_all(self._to_child, message)
        except (BrokenPipeError, OSError):
            raise self._died() from None
        deadline = time.monotonic() + timeout
        length = int.from_bytes(self._read_exactly(8, deadline), "little")
        if length > self.limits.reply_bytes:
            self.kill()
            raise ProcessDied(f"the reply was {length} bytes, more than the "
                              f"{self.limits.reply_bytes} allowed")
        body = self._read_exactly(length, deadline)
        try:
            return wire.decode(body)
        except wire.WireError as exc:
            self.kill()
            raise ProcessDied(f"the student process sent a malformed reply ({exc})") from None

    def _read_exactly(self, n: int, deadline: float) -> bytes:
        chunks, got = [], 0
        while got < n:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_child], [], [], max(remaining, 0))
            if not ready:
                self.kill()
                raise CallTimeout("the call did not finish within its time limit")
            chunk = os.read(self._from_child, min(n - got, 1 << 20))
            if not chunk:
                raise self._died()
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _died(self) -> ProcessDied:
        code = self.proc.poll() if self.proc else None
        self.kill()
        if code is not None and code < 0:
            reason = f"was killed by signal {signal.Signals(-code).name}"
            if -code == signal.SIGXCPU:
                reason += " (CPU time limit)"
        else:
            reason = f"exited with code {code}" if code is not None else "closed its pipe"
        return ProcessDied(f"the student process {reason} during the call")

    def kill(self) -> None:
        """Kill the whole process group and forget the process (a fresh one starts next)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        _kill_orphans(self._children_before)
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc = None

    close = kill

    def output_tail(self, limit: int = 2000) -> str:
        """The end of what the student's code printed (for feedback)."""
        log = self.submission_dir / ".student-output.log"
        if not log.exists():
            return ""
        with open(log, "rb") as f:
            f.seek(max(0, log.stat().st_size - limit))
            return f.read().decode("utf-8", "replace")


def _become_subreaper() -> None:
    """Make processes that the student's code detaches (double fork, setsid) become our
    children when their parent dies, so that _kill_orphans can find and end them."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass  # not Linux: the process group kill still applies


def _children() -> set[int]:
    """Process ids whose parent is this process (read from /proc)."""
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


def _kill_orphans(keep: set[int]) -> None:
    """Kill and reap every child of ours that was not there before the student process:
    after it was killed, such a child is something the submission started and detached."""
    for _ in range(5):
        orphans = _children() - keep
        if not orphans:
            return
        for pid in orphans:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError, PermissionError):
                pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
