"""Typed results of a grading run; the Gradescope JSON and the terminal report are views.

Gradescope's results.json: top-level score, execution_time, output, tests (each with
name, score, max_score, output, visibility). Everything written is strict JSON, and
every string passes through inert.text first (the student controls much of it: no
escape sequence, carriage return or lone surrogate reaches a terminal or a file).
"""
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autograder import inert


@dataclass
class TestResult:
    name: str  # "<function or method>: <what>, <case>"
    score: float
    max_score: float
    output: str  # feedback for the student
    status: str = "passed"  # passed | failed | error | timeout
    hints: list[str] = field(default_factory=list)  # known mistakes, verified (shown last)
    case: str = ""  # the case label (the part of the name after the last ", ")
    wrong: dict[str, str] = field(default_factory=dict)  # output or rule -> reason
    blame: str = ""  # "backward", or the forward function the evidence points to
    # why no verdict on values: not_implemented, exception, crash, timeout, invalid,
    # numeric_gradients, internal, not_run ("" when the outputs were judged)
    cause: str = ""
    # the student's exception, when there was one: {"type", "file", "line", "message"}
    # (capped, from the student process: data for views, never code)
    error: dict = field(default_factory=dict)

    @property
    def target(self) -> str:
        return self.name.split(":", 1)[0]


@dataclass
class GradingResult:
    tests: list[TestResult]
    execution_time: float = 0.0
    output: str = ""  # overall message shown above the tests
    grader_error: str = ""  # the grader itself cannot run (installation): exit non-zero

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 2)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 2)

    def to_gradescope(self) -> dict:
        return {"score": _finite(self.score), "execution_time": round(self.execution_time, 3),
                "output": inert.text(self.output), "visibility": "visible",
                "stdout_visibility": "hidden",
                "tests": [{"name": inert.line(t.name, None), "score": _finite(t.score),
                           "max_score": t.max_score, "output": inert.text(t.output),
                           # Gradescope knows only passed / failed; error and timeout are failures
                           "status": "passed" if t.status == "passed" else "failed",
                           "visibility": "visible"} for t in self.tests]}

    def write_json(self, path: Path) -> None:
        """Write results.json atomically (a reader never sees half a file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_gradescope(), indent=2, ensure_ascii=False,
                                  allow_nan=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def report(self, colour: bool | None = None) -> str:
        """A readable report: one line per test, feedback under the failed ones."""
        colour = sys.stdout.isatty() if colour is None else colour
        paint = _painter(colour)
        lines = [inert.text(self.output), ""] if self.output else []
        for t in self.tests:
            mark = paint("PASS", "32") if t.status == "passed" else paint(t.status.upper(), "31")
            lines.append(f"{mark:>6}  {t.score:5.2f}/{t.max_score:<5.2f} {inert.line(t.name, None)}")
            if t.status != "passed":
                lines.extend("          " + line for line in inert.text(t.output).splitlines())
        lines.append("")
        lines.append(paint(f"Total: {self.score:.2f} / {self.max_score:.2f}", "1")
                     + f"   ({self.execution_time:.1f} s)")
        return "\n".join(lines)


def internal_error(reason: str, execution_time: float = 0.0) -> GradingResult:
    """Results when grading could not even start: no test, score 0, the reason."""
    return GradingResult([], execution_time, "The autograder could not grade this "
                         f"submission: internal error, not a verdict on your code ({reason}). "
                         "Please tell your instructor.", grader_error=reason)


def _finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0


def _painter(colour: bool):
    return (lambda text, code: f"\033[{code}m{text}\033[0m") if colour else (lambda text, code: text)
