"""Defences of the grading itself that are not isolation: what leaves the student
process as text, and backward functions that differentiate numerically.

- Redactor: feedback is capped, and any text of the reference solution or the grading
  secret that reaches it (an exception message carrying a file the student process
  found) is replaced, in the grader, before it is written anywhere.
- Numeric-gradient backward functions: counted in the student process (calls to the
  forward functions while the backward runs: layer_ops.counting_forward_calls, judged
  by engine.run_case, limit engine._forward_call_limit) and timed from the grader on a larger hidden case (`probe_speed`):
  a derived backward costs a few forwards, a numeric one 2 x (number of inputs).
"""
import time
from functools import partial
from pathlib import Path

from autograder import cases
from autograder.sandbox import CallTimeout, SandboxError

MAX_TEST_OUTPUT = 8000  # characters of feedback per test
MIN_SECRET_LINE = 24  # reference lines at least this long are recognised in feedback


class Redactor:
    def __init__(self, reference_folder: Path, secret: bytes):
        lines = set()
        for name in ("rnn_layers.py", "rnn_classifier.py"):
            path = Path(reference_folder) / name
            if path.exists():
                lines |= {line.strip() for line in path.read_text().splitlines()
                          if len(line.strip()) >= MIN_SECRET_LINE}
        self.secrets = sorted(lines) + ([secret.decode(errors="replace")] if secret else [])

    def __call__(self, text: str) -> str:
        if len(text) > MAX_TEST_OUTPUT:
            text = text[:MAX_TEST_OUTPUT] + "\n[feedback cut here: too long]"
        if any(secret in text for secret in self.secrets):
            kept = [line for line in text.splitlines()
                    if not any(secret in line for secret in self.secrets)]
            text = "\n".join(kept + ["[a message from the student process was hidden: it "
                                     "contained text of the grader's solution or secret]"])
        return text


# backward target -> (forward target, larger hidden case): cheap forwards, many inputs
PROBES = {
    "rnn_step_backward": partial(cases.rnn_step, N=4, D=64, H=64),
    "rnn_backward": partial(cases.rnn_sequence, N=2, T=4, D=32, H=32),
    "word_embedding_backward": partial(cases.embedding, N=4, T=8, D=256, repeats=False),
}


def probe_speed(student, target: str, rng, ratio: float, timeout: float,
                attempts: int = 3) -> str | None:
    """None, or why `target` looks like numeric differentiation: its backward takes more
    than `ratio` times the student's own forward (timed from the grader) on a case with
    thousands of inputs. A slow machine slows both; a loop-based but derived backward
    costs a few forwards. Measured up to `attempts` times: only a steady excess counts."""
    payload = {**PROBES[target](rng), "numeric": False}
    worst = None
    for _ in range(attempts):
        forward = float("inf")
        try:
            forward = min(_timed(student, "forward", payload, timeout) for _ in range(3))
            backward = _timed(student, "backward", payload, timeout)
        except TimeoutError:
            if forward == float("inf"):
                return None  # the forward itself is slow: nothing to compare with
            backward = float("inf")
        except (SandboxError, _Failed):
            return None  # broken code is graded by its own tests
        if backward <= ratio * forward + 0.02:
            return None
        worst = backward / max(forward, 1e-9)
    return (f"{target} took {worst:.0f} times as long as its forward function on a larger "
            f"hidden case ({payload['shapes']}): it seems to compute numeric gradients by "
            f"calling the forward pass many times instead of deriving them. No credit for "
            f"{target}: derive the gradients with the chain rule.")


class _Failed(Exception):
    pass


def _timed(student, op: str, payload: dict, timeout: float) -> float:
    start = time.perf_counter()
    try:
        reply = student.request(op, payload, timeout)
    except CallTimeout:
        raise TimeoutError from None
    if not isinstance(reply, dict) or "ok" not in reply:
        raise _Failed
    return time.perf_counter() - start

