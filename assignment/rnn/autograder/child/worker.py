"""The student process: imports the submission and runs the grader's requests.

Started by autograder/sandbox.py as `python -I worker.py SUBMISSION_DIR IN_FD OUT_FD`.
Only this folder (wire, layer_ops, classifier_ops) and the submission are importable
here: the reference solution never enters this process. Requests and replies travel on
the two pipes given, in wire format; the student's prints go elsewhere.
"""
import importlib
import os
import sys
import traceback

import numpy as np  # noqa: F401  imported before the submission is on sys.path, so a
# student's numpy.py cannot shadow it

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves it out
import classifier_ops  # noqa: E402
import layer_ops  # noqa: E402
import wire  # noqa: E402

OPERATIONS = {
    "forward": layer_ops.forward,
    "backward": layer_ops.backward,
    "init": classifier_ops.init,
    "scores": classifier_ops.scores,
    "loss": classifier_ops.loss,
    "predict": classifier_ops.predict,
    "overfit": classifier_ops.overfit,
    "train_trace": classifier_ops.train_trace,
}


class StudentModules:
    """rnn_layers / rnn_classifier of the submission, imported on first use."""

    def __getattr__(self, name):
        module = importlib.import_module(name)
        setattr(self, name, module)
        return module


def describe_error(exc: BaseException, submission_dir: str) -> dict:
    """Type, message and the innermost line of the submission where it happened."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(submission_dir):
            where = f"{os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}"
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{os.path.basename(exc.filename)}:{exc.lineno}"
    return {"type": type(exc).__name__, "message": str(exc)[:1500], "where": where,
            "student_error": isinstance(exc, layer_ops.StudentError)}


def serve(submission_dir: str, requests, replies) -> None:
    modules = StudentModules()
    while True:
        header = requests.read(8)
        if len(header) < 8:
            return
        body = requests.read(int.from_bytes(header, "little"))
        request = wire.decode(body)
        try:
            reply = {"ok": OPERATIONS[request["op"]](modules, request["payload"])}
            message = wire.encode(reply)
        except BaseException as exc:  # SystemExit, KeyboardInterrupt: still just an error
            message = wire.encode({"error": describe_error(exc, submission_dir)})
        replies.write(len(message).to_bytes(8, "little") + message)
        replies.flush()


def main() -> None:
    submission_dir, in_fd, out_fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    requests, replies = os.fdopen(in_fd, "rb"), os.fdopen(out_fd, "wb")
    sys.stdin = open(os.devnull)
    os.chdir(submission_dir)
    sys.path.insert(0, submission_dir)
    sys.setrecursionlimit(3000)
    serve(os.path.realpath(submission_dir) + os.sep, requests, replies)


if __name__ == "__main__":
    main()
