"""The grader's side of the student process: start it with limits, ask, wait, kill.

The student's code runs only in that process (autograder/child/worker.py). It gets a
minimal environment, no stdin, its own session (so its whole process group can be
killed), limits on memory, CPU, file size and core dumps, and its output goes to a
capped log file. Replies are read with a deadline and decoded by wire.decode, which
never executes anything.
"""
import ctypes
import json
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.child import jail, wire

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


# The submission's module each operation imports first (see the import step below).
MODULE_OF_OP = {"forward": "rnn_layers", "backward": "rnn_layers"}
DEFAULT_MODULE = "rnn_classifier"
_SUPERVISORS: set[int] = set()  # student processes of this grader (any thread), never orphans


class StudentProcess:
    """One student process serving requests until closed (or killed after a failure).

    `settings` go to autograder/child/jail.py (user, namespaces, hidden paths); see
    autograder/isolation.py. The process started is a tiny supervisor that forks the
    real student process, so the grader is never the student's parent.
    """

    def __init__(self, submission_dir: Path, limits: Limits = Limits(),
                 settings: dict | None = None):
        self.submission_dir, self.limits = Path(submission_dir), limits
        self.settings = dict(settings or {})
        self.proc = None
        self.log = None  # the student's stdout and stderr: a file only the grader can see
        self.imported: set[str] = set()  # modules imported by the current process
        self.broken_imports: dict[str, str] = {}  # module -> why importing it fails for good
        self.jail_status = ""  # what child/jail.py applied (reported by the student process)

    def start(self) -> None:
        _become_subreaper()
        self._children_before = jail.children()  # the grader's own, left alone by kill()
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        if self.log is None:
            self.log = tempfile.TemporaryFile(prefix="rnn-student-output-")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-B", str(CHILD_DIR / "worker.py"),
             str(self.submission_dir), str(to_child_r), str(from_child_w),
             json.dumps(self.settings)],
            cwd=self.submission_dir, env=self._environment(), stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=self.log, pass_fds=(to_child_r, from_child_w),
            close_fds=True, start_new_session=True, preexec_fn=self._apply_limits)
        _SUPERVISORS.add(self.proc.pid)
        os.close(to_child_r)
        os.close(from_child_w)
        os.set_blocking(self._to_child, False)
        self.imported = set()

    def _environment(self) -> dict:
        """A minimal environment: nothing of the grader's (no RNN_GRADER_SECRET)."""
        return {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8",
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
        """Send one request and return the decoded reply; raise on timeout or death.

        The submission's module the operation needs is imported first, in its own step
        with the same deadline: an import that hangs, kills the process or raises
        SystemExit-like exceptions fails this request and, at once, every later request
        that needs that module (one time limit spent, not one per test)."""
        module = MODULE_OF_OP.get(op, DEFAULT_MODULE)
        if module in self.broken_imports:
            raise SandboxError(self.broken_imports[module])
        deadline = time.monotonic() + timeout
        if self.proc is not None and self._unsolicited():
            self.kill()  # something wrote after its reply (a thread?): start afresh
        if self.proc is None:
            self.start()
        if module not in self.imported:
            self._import(module, deadline, timeout)
        reply = self._exchange(op, payload, deadline)
        if isinstance(reply, dict) and reply.pop("restart", None) is True:
            self.kill()  # the process ends after this reply (SystemExit, stray threads)
        return reply

    def _import(self, module: str, deadline: float, timeout: float) -> None:
        fresh = not self.imported  # nothing ran in this process before: the import's fault
        try:
            reply = self._exchange("import", {"module": module}, deadline)
        except CallTimeout:
            if not fresh:
                raise
            self.broken_imports[module] = (f"Importing {module}.py did not finish within "
                                           f"{timeout:g} s (an infinite loop at import?).")
            raise SandboxError(self.broken_imports[module]) from None
        except SandboxError as exc:
            if not fresh:  # perhaps something left behind by an earlier call
                raise
            self.broken_imports[module] = f"Importing {module}.py failed: {exc}"
            raise SandboxError(self.broken_imports[module]) from None
        error = reply.get("error") if isinstance(reply, dict) else None
        if isinstance(error, dict) and error.get("fatal") is True:
            where = f" at {str(error.get('where'))[:200]}" if error.get("where") else ""
            self.broken_imports[module] = (f"Importing {module}.py raised "
                                           f"{str(error.get('type'))[:80]}{where}: "
                                           f"{str(error.get('message'))[:500]}")
            self.kill()
            raise SandboxError(self.broken_imports[module])
        if error is None:
            self.imported.add(module)
            ok = reply.get("ok") if isinstance(reply, dict) else None
            self.jail_status = str(ok.get("jail", ""))[:100] if isinstance(ok, dict) else ""
        # an ordinary exception at import: the operation itself reports it

    def _unsolicited(self) -> bool:
        ready, _, _ = select.select([self._from_child], [], [], 0)
        return bool(ready)

    def _exchange(self, op: str, payload, deadline: float):
        message = wire.encode({"op": op, "payload": payload})
        try:
            _write_all(self._to_child, len(message).to_bytes(8, "little") + message,
                       deadline, self)
        except (BrokenPipeError, OSError):
            raise self._died() from None
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
        code = None
        if self.proc:
            try:
                code = self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        if code is not None and code < 0:
            reason = f"was killed by signal {signal.Signals(-code).name}"
            if -code == signal.SIGXCPU:
                reason += " (CPU time limit)"
            if -code == signal.SIGSEGV:
                reason += " (a segmentation fault)"
        else:
            reason = f"exited with code {code}" if code is not None else "closed its pipe"
        return ProcessDied(f"the student process {reason} during the call")

    def kill(self) -> None:
        """End the student process and everything it started; a fresh one starts next.

        The supervisor kills the student process on SIGTERM and then whatever that left
        behind; the process group kill and the orphan sweep are the backstops."""
        if self.proc is None:
            return
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=2)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        _SUPERVISORS.discard(self.proc.pid)
        _kill_orphans(self._children_before | _SUPERVISORS)
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc = None

    def close(self) -> None:
        self.kill()
        if self.log is not None:
            self.log.close()
            self.log = None


def _become_subreaper() -> None:
    """Make processes that the student's code detaches (double fork, setsid) become our
    children when their parent dies, so that _kill_orphans can find and end them."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass  # not Linux: the process group kill still applies


def _kill_orphans(keep: set[int]) -> None:
    """Kill and reap every child of ours that was not there before the student process:
    after it was killed, such a child is something the submission started and detached."""
    for _ in range(5):
        orphans = jail.children() - keep
        if not orphans:
            return
        for pid in orphans:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError, PermissionError):
                pass


def _write_all(fd: int, data: bytes, deadline: float, student: StudentProcess) -> None:
    """Write a request, within the deadline (a student process that stops reading
    requests must not block the grader)."""
    view = memoryview(data)
    while view:
        ready = select.select([], [fd], [], max(deadline - time.monotonic(), 0))[1]
        if not ready:
            student.kill()
            raise CallTimeout("the student process did not read its request in time")
        try:
            view = view[os.write(fd, view[:1 << 16]):]
        except BlockingIOError:
            continue
