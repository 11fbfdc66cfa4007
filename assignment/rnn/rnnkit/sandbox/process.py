"""The grader's side of the student process: start it with limits, ask, wait, kill.

The student's code runs only in that process (autograder/sandbox/child/worker.py). It gets a
minimal environment, requests on its stdin and replies on its stdout (the student's
own prints go to a capped log file), limits, and the isolation that `settings` name
(isolation.py: bwrap, the own jail, a user switch, or none). Replies are read with a
deadline and decoded by wire.decode, which never executes anything.

Every capability is optional and chosen by what this Python offers, so that the same
module is the student's self-check on Linux, macOS and Windows with only NumPy:
rlimits when `resource` imports, a new session and a process-group kill when
`os.setsid` / `os.killpg` exist, a /proc scan for detached processes when /proc exists,
select() on pipes where it works, else reader and writer threads. The grader adds a
cgroup for the whole tree (limits.py) where the machine has one.
"""
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rnnkit.sandbox.channel import Channel
from rnnkit.sandbox.child import functions, jail, wire

try:
    import resource
except ImportError:  # Windows
    resource = None

CHILD_DIR = Path(__file__).resolve().parent / "child"


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 1 << 30  # address space of one process (settings may lower it)
    cpu_seconds: int = 120  # CPU time of the whole student process
    file_bytes: int = 16 << 20  # largest file (and log) the student may write
    reply_bytes: int = 64 << 20  # largest reply the grader reads


def plain_error(raw, message_limit: int) -> dict:
    """The error of a reply (data from the student process, of any shape) as capped
    one-line strings and one flag: what every reader of it may rely on."""
    raw = raw if isinstance(raw, dict) else {}

    def text(key, default, limit):  # one line: no fake report lines in the feedback
        value = raw.get(key)
        return cut(" ".join((value if isinstance(value, str) else default).split()), limit)
    line = raw.get("line")
    return {"type": text("type", "Error", 80), "where": text("where", "", 120),
            "file": text("file", "", 120),
            "line": line if type(line) is int and 0 < line < 1 << 31 else None,
            "message": text("message", "", message_limit),
            "student_error": raw.get("student_error") is True}


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 30] + " [... cut: message too long]"


class SandboxError(Exception):
    """The student process did not answer normally."""


class CallTimeout(SandboxError):
    pass


class ProcessDied(SandboxError):
    pass


@dataclass
class _SentAhead:
    """A request sent by send_ahead(), until request() asks for its reply."""
    payload: object  # the request's payload: request() with this very object reads it
    timeout: float
    serve: object  # who answers its calls
    done: bool = False  # read already (or lost), before its turn
    outcome: object = None  # then: its reply, or the SandboxError it met


_SUPERVISORS: set[int] = set()  # student processes of this grader (any thread), never orphans


class StudentProcess:
    """One student process serving requests until closed (or killed after a failure).

    `settings` come from autograder/sandbox/isolation.py (mode, user, allow-list, caps); without
    them (the self-check) the process runs unisolated, with the same protocol.
    """

    def __init__(self, submission_dir: Path, limits: Limits = Limits(),
                 settings: dict | None = None):
        self.submission_dir, self.limits = Path(submission_dir), limits
        self.settings = dict(settings or {})
        self.proc = None
        self.tree = None  # limits.TreeLimit: the cgroup of this process tree, if any
        self.log = None  # the student's stdout and stderr: a file only the grader can see
        self.imported: set[str] = set()  # modules imported by the current process
        self.importing = ""  # a module asked at boot, whose reply is not read yet
        self.broken_imports: dict[str, str] = {}  # module -> why importing it fails for good
        self.started_in = 0.0  # seconds the last start() took (bench/bench_grader.py)
        self.started_at = 0.0  # time.time() at the last start() (remove_student_leftovers)
        self.idle = None  # while_waiting(): the grader's own work, done while it waits
        self.ahead: _SentAhead | None = None  # send_ahead()'s request, until its turn

    def start(self) -> None:
        begin, self.started_at = time.perf_counter(), time.time()
        _become_subreaper()
        self._children_before = jail.children()  # the grader's own, left alone by kill()
        if self.log is None:
            self.log = tempfile.TemporaryFile(prefix="rnn-student-output-")
        self.tree = self._make_tree()
        rlimits, child = self._rlimits(), self._child_settings()
        backend, folder = _backend(self.settings), str(self.submission_dir)
        child_dir = Path(self.settings.get("child_dir") or CHILD_DIR)  # a readable copy?
        argv = [sys.executable, "-I", "-B", str(child_dir / "worker.py"),
                backend.student_folder(folder) if backend else folder, "-", "-",
                json.dumps(child)]
        if backend:
            argv = backend.command(self.settings, argv, folder)
        preexec = _preexec(rlimits, self.tree, self.settings, self.limits,
                           str(self.submission_dir)) if resource else None
        try:
            self.proc = subprocess.Popen(
                argv, cwd=self.submission_dir, env=self._environment(),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                close_fds=True, start_new_session=hasattr(os, "setsid"), preexec_fn=preexec)
        finally:
            if self.tree is not None:
                self.tree.close_fds()
        _SUPERVISORS.add(self.proc.pid)
        self.channel = Channel(self.proc.stdin, self.proc.stdout)
        self.imported, self.importing = set(), ""
        self.started_in = time.perf_counter() - begin

    def boot(self, module: str = "") -> None:
        """Start now, when not running, so that the process boots while the grader does
        other work, and ask it to import `module` (the student's module the first
        request needs): the first request reads that reply instead of waiting for the
        import. A start that fails is reported by the first request instead."""
        if self.proc is None:
            try:
                self.start()
                if module and module not in self.broken_imports:
                    self._send({"op": "import", "payload": {"module": module}},
                               time.monotonic() + 1.0)  # an empty pipe: written at once
                    self.importing = module
            except Exception:  # noqa: BLE001  request() starts again and reports it
                if self.proc is not None:
                    self.kill()
                elif self.tree is not None:
                    self.tree.remove()
                    self.tree = None

    def while_waiting(self, work) -> None:
        """work() -> bool: one small piece of the grader's own work (False: none left),
        done whenever a reply is awaited and has not come yet, so that the grader
        prepares what comes next while the student process computes. A reply that came
        meanwhile is read first; a deadline is never missed for it (the work stops then)."""
        self.idle = work

    def _make_tree(self):
        if not self.settings.get("cgroups"):
            return None
        from rnnkit.sandbox.limits import TreeLimit

        tree = TreeLimit.create(self.settings["memory_bytes"], self.settings["processes"])
        if tree is not None:
            tree.open()
        return tree

    def _rlimits(self) -> dict:
        """Per-process limits; without a cgroup, the fallback that keeps the product of
        processes and address space under the cap of the whole grading."""
        caps = self.tree.caps if self.tree is not None else set()
        memory, nproc = self.limits.memory_bytes, None
        if "memory_bytes" in self.settings:
            memory = self.settings["memory_bytes"]
            if "memory" not in caps:
                from rnnkit.sandbox.limits import fallback_rlimits
                nproc, memory = fallback_rlimits(memory, self.settings["fallback_processes"])
        if "pids" not in caps and "fallback_processes" in self.settings:
            nproc = self.settings["fallback_processes"]
        return {"memory": memory, "nproc": nproc}

    def _child_settings(self) -> dict:
        keys = ("mode", "uid", "gid", "view", "tmpfs_bytes", "preload", "syscall_filter")
        child = {k: self.settings[k] for k in keys if k in self.settings}
        rlimits = self._rlimits()
        backend = _backend(self.settings)
        if rlimits["nproc"] and backend and backend.switches_user:
            child["nproc"] = rlimits["nproc"]  # set after the uid switch (root ignores it)
        return child

    def _environment(self) -> dict:
        """A minimal environment: nothing of the grader's (no RNN_GRADER_SECRET)."""
        env = {"PATH": os.pathsep.join(["/usr/bin", "/bin"]), "HOME": "/tmp",
               "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
        if os.name == "nt":  # Windows cannot start Python without these
            env.update({k: os.environ[k] for k in ("SYSTEMROOT", "TEMP", "TMP")
                        if k in os.environ})
        return env

    def request(self, op: str, payload, timeout: float, serve=None):
        """Send one request and return the decoded reply; raise on timeout or death.

        serve(call) -> {"answer": ...} or {"error": ...}: the grader's answers to the
        calls the request makes before its reply (messages {"call": ...}, serve.py);
        the time spent answering is added to the deadline (it is not the student's).

        The submission's module the operation needs is imported first, in its own step
        with the same deadline: an import that hangs, kills the process or raises
        SystemExit-like exceptions fails this request and, at once, every later request
        that needs that module (one time limit spent, not one per test)."""
        if self.ahead is not None:
            if self.ahead.payload is payload:
                return self._ahead_reply(timeout)
            self._drain_ahead()  # another request first (an explanation of the last case)
        module = functions.student_module(op, payload)  # child/functions.py
        if module in self.broken_imports:
            raise SandboxError(self.broken_imports[module])
        deadline = time.monotonic() + timeout
        if self.proc is not None and self.importing:
            self._imported_at_boot(module, deadline, timeout)
        if self.proc is not None and self.channel.unsolicited():
            self.kill()  # something wrote after its reply (a thread?): start afresh
        if self.proc is None:
            self.start()
        if module not in self.imported:
            self._import(module, deadline, timeout)
        self._send({"op": op, "payload": payload}, deadline)
        return self._reply(deadline, serve)

    def send_ahead(self, op: str, payload, timeout: float, serve=None) -> bool:
        """Send a request now, whose reply the next request() with this same payload
        object reads: the grader judges the last reply while the student process
        computes this one. Only when the process runs with the request's module
        imported and nothing else in flight; False when not sent (request() sends it
        then, as usual). Its time limit counts from when request() starts to wait (the
        process may have started earlier, by the judging of the last case at most)."""
        module = functions.student_module(op, payload)
        if (self.proc is None or self.importing or module not in self.imported
                or self.ahead is not None
                or self.channel.unsolicited()):
            return False
        try:
            self._send({"op": op, "payload": payload}, time.monotonic() + timeout)
        except SandboxError:
            return False  # killed: request() starts afresh
        self.ahead = _SentAhead(payload, timeout, serve)
        return True

    def _ahead_reply(self, timeout: float):
        ahead, self.ahead = self.ahead, None
        if not ahead.done:
            return self._reply(time.monotonic() + timeout, ahead.serve)
        if isinstance(ahead.outcome, BaseException):  # read while another request waited
            raise ahead.outcome
        return ahead.outcome

    def _drain_ahead(self) -> None:
        """Read the reply of the request sent ahead (answering its calls), and keep it
        for its own request(), so that the channel is free for another one."""
        ahead = self.ahead
        if ahead.done:
            self.ahead = None  # its turn never came (the time budget ran out)
            return
        try:
            ahead.outcome = self._reply(time.monotonic() + ahead.timeout, ahead.serve)
        except SandboxError as exc:
            ahead.outcome = exc
        ahead.done = True

    def _reply(self, deadline: float, serve):
        """The reply to the request sent last (its calls answered), then the restart
        the process asked for, if any."""
        reply = self._answer_calls(deadline, serve)
        if isinstance(reply, dict) and reply.pop("restart", None) is True:
            self.kill()  # the process ends after this reply (SystemExit, stray threads)
        return reply

    def _imported_at_boot(self, module: str, deadline: float, timeout: float) -> None:
        """The reply to the import asked at boot, read now as if asked now (within this
        request's deadline). Another module than this request's: a failure is recorded
        for that module's own requests, and this one goes on in a fresh process."""
        asked, self.importing = self.importing, ""
        try:
            self._import(asked, deadline, timeout, asked=True)
        except SandboxError:
            if asked == module:
                raise

    def _import(self, module: str, deadline: float, timeout: float,
                asked: bool = False) -> None:
        fresh = not self.imported  # nothing ran in this process before: the import's fault
        try:
            if asked:  # at boot: its reply only
                reply = self._receive(deadline)
            else:
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
            error = plain_error(error, 500)
            where = f" at {error['where']}" if error["where"] else ""
            self.broken_imports[module] = (f"Importing {module}.py raised "
                                           f"{error['type']}{where}: {error['message']}")
            self.kill()
            raise SandboxError(self.broken_imports[module])
        if error is None:
            self.imported.add(module)
        # an ordinary exception at import: the operation itself reports it

    def _exchange(self, op: str, payload, deadline: float, serve=None):
        self._send({"op": op, "payload": payload}, deadline)
        return self._answer_calls(deadline, serve)

    def _answer_calls(self, deadline: float, serve=None):
        """Read messages until the reply, answering the calls before it."""
        while True:
            message = self._receive(deadline)
            if serve is None or not (isinstance(message, dict) and set(message) == {"call"}):
                return message
            began = time.monotonic()
            answer = serve(message["call"])  # never raises: refusals are answers
            deadline += time.monotonic() - began
            self._send(answer, deadline)

    def _send(self, value, deadline: float) -> None:
        try:
            sent = self.channel.write(wire.frame(value), deadline)
        except OSError:
            raise self._died() from None
        if not sent:
            self.kill()
            raise CallTimeout("the student process did not read its request in time")

    def _receive(self, deadline: float):
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
        data = self.channel.read_exactly(n, deadline, self.idle)
        if data is None:
            self.kill()
            raise CallTimeout("the call did not finish within its time limit")
        if len(data) < n:
            raise self._died()
        return data

    def _died(self) -> ProcessDied:
        code = None
        if self.proc:
            try:
                code = self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        memory = self.tree is not None and self.tree.memory_exceeded()
        self.kill()
        if memory:
            reason = (f"was stopped: all its processes together used more than the "
                      f"{self.settings['memory_bytes'] >> 20} MB of memory allowed")
        elif code is not None and code < 0:
            reason = f"was killed by signal {signal.Signals(-code).name}"
            if -code == getattr(signal, "SIGXCPU", None):
                reason += " (CPU time limit)"
            if -code == signal.SIGSEGV:
                reason += " (a segmentation fault)"
        else:
            reason = f"exited with code {code}" if code is not None else "closed its pipe"
        return ProcessDied(f"the student process {reason} during the call")

    def kill(self) -> None:
        """End the student process and everything it started; a fresh one starts next.

        With a cgroup, every process in it is killed until it is empty. Otherwise the
        supervisor (child/jail.py) kills the student process on SIGTERM and then what
        that left; the process group kill and the orphan sweep are the backstops."""
        if self.proc is None:
            return
        if self.tree is not None:
            self.tree.kill_all()
        else:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=2)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        if hasattr(os, "killpg"):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()
        _SUPERVISORS.discard(self.proc.pid)
        _kill_orphans(self._children_before | _SUPERVISORS)
        if self.tree is not None:
            self.tree.remove()
            self.tree = None
        if _backend(self.settings):
            _backend(self.settings).after_kill(self.settings, self.started_at)
        self.channel.close()
        self.proc, self.importing = None, ""
        if self.ahead is not None and not self.ahead.done:  # lost with the process
            self.ahead.outcome = ProcessDied("the student process was stopped while it "
                                             "computed this call")
            self.ahead.done = True

    def close(self) -> None:
        self.kill()
        if self.log is not None:
            self.log.close()
            self.log = None


def _backend(settings: dict):
    """The isolation backend the settings name (autograder/sandbox/backends/), or None: the
    self-check kit runs its process plainly, and ships without that package."""
    if "mode" not in settings:
        return None
    from rnnkit.sandbox import backends
    return backends.named(settings["mode"])


def _preexec(rlimits: dict, tree, settings: dict, limits: Limits, folder: str = ""):
    """What runs in the child between fork and exec: join the cgroup, set the rlimits,
    and (bwrap as the student user) drop to that user. Only where `resource` exists."""
    backend = _backend(settings)
    become_student = backend.preexec(settings, folder) if backend else None
    nproc = None if backend and backend.switches_user else rlimits["nproc"]
    if nproc and os.geteuid() != 0 and hasattr(os, "getuid"):  # the grader's uid: what
        from rnnkit.sandbox.limits import tasks_of  # it runs already counts too
        nproc += tasks_of(os.getuid())

    def apply() -> None:
        if tree is not None:
            tree.join()
        for kind, value in ((resource.RLIMIT_AS, rlimits["memory"]),
                            (resource.RLIMIT_CPU, limits.cpu_seconds),
                            (resource.RLIMIT_FSIZE, limits.file_bytes),
                            (resource.RLIMIT_CORE, 0),
                            # no POSIX message queue (it would outlive the process where
                            # no IPC namespace ends with it); an honest submission needs none
                            (getattr(resource, "RLIMIT_MSGQUEUE", None), 0)):
            if kind is not None:
                resource.setrlimit(kind, (value, value))
        if become_student:
            become_student()
        if nproc and hasattr(resource, "RLIMIT_NPROC") and os.geteuid() != 0:
            extra = backend.own_processes if backend else 0
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc + extra, nproc + extra))
    return apply


def _become_subreaper() -> None:
    """Make processes that the student's code detaches (double fork, setsid) become our
    children when their parent dies, so that _kill_orphans can find and end them."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError, TypeError):
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
