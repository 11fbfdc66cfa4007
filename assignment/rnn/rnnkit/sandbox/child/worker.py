"""The student process: imports the submission and runs the grader's requests.

Started by autograder/sandbox/process.py as
`python -I worker.py SUBMISSION_DIR IN_FD OUT_FD SETTINGS_JSON` (IN_FD OUT_FD = - -:
requests on stdin, replies on stdout); jail.enter fences it in
(see there) before the submission is on sys.path. Only this folder (wire, functions,
layer_ops, classifier_ops, served, jail) and the submission are importable here: the reference
solution never enters this process. Requests and replies travel on the two pipes given,
in wire format; so do the calls the grader answers during a request (served.py); the
student's prints go elsewhere.
"""
import importlib
import json
import os
import signal
import sys
import threading
import traceback

import numpy as np  # noqa: F401  imported before the submission is on sys.path, so a
# student's numpy.py cannot shadow it

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves it out
import functions
import layer_ops
import served
import wire

try:
    import jail
except ImportError:  # the student's self-check kit may ship without it: no fence needed
    jail = None

# the operations of functions.OPERATIONS, looked up by name in each request
OPERATIONS = {op: functions.operation(op) for op in functions.OPERATIONS}


class StudentModules:
    """rnn_layers / rnn_classifier of the submission, imported on first use. An import
    that raises is not run again: every later use raises the same exception (a module
    that is slow to fail costs its time once, not once per test)."""

    def __init__(self):
        self._failed = {}  # module name -> the exception its import raised

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._failed:
            raise self._failed[name]
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # BaseExceptions end the process (see serve)
            self._failed[name] = exc
            raise
        setattr(self, name, module)
        return module


def describe_error(exc: BaseException, submission_dir: str) -> dict:
    """Type, message and the innermost line of the submission where it happened.

    Everything here is capped: the exception is the student's object (its __str__ may
    raise or lie), and the grader caps again on its side."""
    where, file, line = "", "", None
    try:
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename.startswith(submission_dir):
                file, line = os.path.basename(frame.filename), frame.lineno
                where = f"{file}:{line} in {frame.name}"
        if isinstance(exc, SyntaxError) and exc.filename:
            file, line = os.path.basename(str(exc.filename)), exc.lineno
            where = f"{file}:{line}"
    except BaseException:  # noqa: BLE001
        pass
    try:  # a SyntaxError's own text repeats "(file, line N)": its bare msg, the rest is above
        message = (str(exc.msg) if isinstance(exc, SyntaxError) and exc.msg
                   else str(exc))[:1500]
    except BaseException:  # noqa: BLE001
        message = "(the exception's message could not be read)"
    return {"type": str(type(exc).__name__)[:80], "message": message, "where": where[:200],
            "file": file[:120], "line": line if isinstance(line, int) else None,
            "student_error": isinstance(exc, layer_ops.StudentError)}


def import_module(modules, payload):
    """{"module"} -> {} once the submission's module is imported (grader's import step)."""
    getattr(modules, payload["module"])
    return {}


OPERATIONS["import"] = import_module


def serve(submission_dir: str, requests, replies) -> None:
    """Answer requests until the grader closes the pipe. After anything that may leave
    the process in a state of the student's making (SystemExit, KeyboardInterrupt and
    other BaseExceptions, threads still running), reply and then end the process: the
    grader starts a fresh one for the next request."""
    modules = StudentModules()
    modules.grader = served.PipeChannel(requests, replies)  # the grader's answers
    threads = threading.active_count()
    while True:
        header = requests.read(8)
        if len(header) < 8:
            return
        body = requests.read(int.from_bytes(header, "little"))
        request = wire.decode(body)
        fresh_start_needed = False
        try:
            reply = {"ok": OPERATIONS[request["op"]](modules, request["payload"])}
            message = wire.encode(reply)
        except Exception as exc:  # noqa: BLE001  the student's bug: an error reply
            message = wire.encode({"error": describe_error(exc, submission_dir)})
        except BaseException as exc:  # noqa: BLE001  SystemExit, KeyboardInterrupt: error, restart
            message = wire.encode({"error": {**describe_error(exc, submission_dir),
                                             "fatal": True}})
            fresh_start_needed = True
        if request["op"] == "import":  # threads started at import: part of the module
            threads = threading.active_count()
        elif threading.active_count() > threads:
            fresh_start_needed = True
        if fresh_start_needed:  # tell the grader, so that it does not race our exit
            message = wire.encode({**wire.decode(message), "restart": True})
        replies.write(len(message).to_bytes(8, "little") + message)
        replies.flush()
        if fresh_start_needed:
            return


def main() -> None:
    submission_dir = sys.argv[1]
    if sys.argv[2] == "-":  # the protocol on stdin / stdout (portable: no fd passing);
        in_fd, out_fd = os.dup(0), os.dup(1)  # the student's prints go to stderr's log
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(2, 1)
    else:
        in_fd, out_fd = int(sys.argv[2]), int(sys.argv[3])
    settings = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # output over the cap: EFBIG, not death
    if jail is not None:
        submission_dir, _ = jail.enter(settings, submission_dir, (in_fd, out_fd))
    requests, replies = os.fdopen(in_fd, "rb"), os.fdopen(out_fd, "wb")
    sys.stdin = open(os.devnull)
    os.chdir(submission_dir)
    sys.path.insert(0, submission_dir)
    sys.setrecursionlimit(3000)
    try:
        serve(os.path.realpath(submission_dir) + os.sep, requests, replies)
    finally:
        os._exit(0)  # no atexit hooks, no finalizers of the student's


if __name__ == "__main__":
    main()
