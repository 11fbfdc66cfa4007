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

from rnnkit.intake import inert


@dataclass(frozen=True)
class TestId:
    """Which test a result is: set where the check and the case are known (checks.identity_of)
    and read as fields downstream; the name is made from them, never parsed back."""
    __test__ = False  # not a test class for pytest
    function: str  # the function or method graded, e.g. "RNNClassifier.loss"
    check: str  # what its check checks, e.g. "gradients"
    case: str  # the case's label, e.g. "N=1, float32"
    levels: tuple[str, ...] = ()  # the boundaries of its domain the case stands at
    large: bool = False  # sized against numeric differentiation (its check's gate)

    @property
    def name(self) -> str:
        """Gradescope's test name (CONTRACT.md): "<function>: <check>, <case>"."""
        return f"{self.function}: {self.check}, {self.case}"


# why no verdict on values (TestResult.cause; "" when the outputs were judged)
CAUSES = ("not_implemented", "exception", "crash", "timeout", "invalid",
          "numeric_gradients", "internal", "not_run")
STATUSES = ("passed", "failed", "error", "timeout")  # Gradescope knows passed / failed
INTERNAL_ERROR = ("could not grade this part: internal error, not a verdict on your code\n"
                  "      无法批改这一部分：评分程序内部错误，与你的代码无关")


@dataclass
class TestResult:
    __test__ = False  # not a test class for pytest
    identity: TestId
    score: float
    max_score: float
    output: str  # feedback for the student
    status: str = "passed"  # one of STATUSES
    hints: list[str] = field(default_factory=list)  # known mistakes, verified (shown last)
    wrong: dict[str, str] = field(default_factory=dict)  # output or rule -> reason
    blame: str = ""  # "backward", or the forward function the evidence points to
    cause: str = ""  # one of CAUSES, or "" when the outputs were judged
    # the student's exception, when there was one: {"type", "where", "file", "line",
    # "message", "student_error"} (capped, from the student process: data, never code)
    error: dict = field(default_factory=dict)
    # the shapes drawn for the case, shown after its label on the feedback's first line
    # ("Case: <label> (<shapes>)"); None: not run, the feedback has no such line
    shapes: str | None = None
    # what the report reads of the feedback's lines (compare.Line), as data: the lines
    # that say a part is right, and line -> the same without its measured sizes
    right: tuple[str, ...] = ()
    gists: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.identity.name

    @property
    def function(self) -> str:
        return self.identity.function

    target = function  # the name the checks table uses (Check.target)

    @property
    def check(self) -> str:
        return self.identity.check

    @property
    def case(self) -> str:
        return self.identity.case

    @property
    def withheld(self) -> bool:
        """Failed although every output was right: no credit by a gate (its check's large
        case failed, or train is not SGD), not by a wrong value."""
        return self.status == "failed" and not self.wrong and not self.cause


@dataclass
class GradingResult:
    tests: list[TestResult]
    execution_time: float = 0.0
    output: str = ""  # overall message shown above the tests
    grader_error: str = ""  # the grader itself cannot run (installation): exit non-zero
    # why the submission could not be read as one (not a zip, a required file missing):
    # the instructor's report flags it; "" when it could
    unreadable: str = ""
    # Gradescope's visibility of the results and of each test (settings: gradescope.visibility)
    visibility: str = "visible"
    # the factor a busy machine stretched every time limit by (machine.py): for the
    # instructor's report, not the student's feedback (it varies between gradings)
    load_scale: float = 1.0

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 2)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 2)

    def to_gradescope(self) -> dict:
        overview = self.overview()
        return {"score": _finite(self.score), "execution_time": round(self.execution_time, 3),
                "output": inert.text("\n\n".join(filter(None, (self.output, overview)))),
                "visibility": self.visibility,
                "stdout_visibility": "hidden",
                "tests": [{"name": inert.line(t.name, None), "score": _finite(t.score),
                           "max_score": t.max_score, "output": inert.text(t.output),
                           # Gradescope knows only passed / failed; error and timeout are failures
                           "status": "passed" if t.status == "passed" else "failed",
                           "visibility": self.visibility} for t in self.tests]}

    def write_json(self, path: Path) -> None:
        """Write results.json atomically (a reader never sees half a file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_gradescope(), indent=2, ensure_ascii=False,
                                  allow_nan=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def overview(self) -> str:
        """One line per function that lost points, above the tests (Gradescope lists one
        test per case): its cases passed and, when all its failing cases say the same
        (an import error, say), what they say."""
        lines = []
        for target, tests in _by_function(self.tests):
            failed = [t for t in tests if t.status != "passed"]
            if not failed:
                continue
            groups = list(_same_feedback(failed))
            said = groups[0][1].partition("\n")[0] if len(groups) == 1 else ""
            lines.append(f"{target}: {len(tests) - len(failed)} of {len(tests)} cases passed"
                         + (f" ({said})" if said else "; see its tests below"))
        return "\n".join(lines)

    def report(self, colour: bool | None = None) -> str:
        """A readable report: one line per graded function, its failing cases grouped
        under it (cases with the same feedback once, e.g. one import error for all), its
        hints once, after its cases."""
        paint = _painter(sys.stdout.isatty() if colour is None else colour)
        lines = [inert.text(self.output), ""] if self.output else []
        if self.load_scale > 1:  # the Total line stays the last one
            lines[:0] = [f"The grading machine was busy: every time limit was multiplied "
                         f"by {self.load_scale:.1f} (its load per CPU).", ""]
        for target, tests in _by_function(self.tests):
            lines += _function_lines(target, tests, paint)
        lines.append("")
        lines.append(paint(f"Total: {self.score:.2f} / {self.max_score:.2f}", "1")
                     + f"   ({self.execution_time:.1f} s)")
        return "\n".join(lines)


def _by_function(tests: list[TestResult]) -> list[tuple[str, list[TestResult]]]:
    """(function, its tests) in the order the tests come."""
    groups: dict[str, list[TestResult]] = {}
    for test in tests:
        groups.setdefault(test.function, []).append(test)
    return list(groups.items())


def _function_lines(target: str, tests: list[TestResult], paint) -> list[str]:
    score, worth = sum(t.score for t in tests), sum(t.max_score for t in tests)
    failed = [t for t in tests if t.status != "passed"]
    mark = paint("PASS", "32") if not failed else paint("FAIL", "31")
    summary = (f"{len(tests) - len(failed)} of {len(tests)} case"
               f"{'s' if len(tests) > 1 else ''} passed")
    lines = [f"{mark:>6}  {score:5.2f}/{worth:<6.2f} {inert.line(target, None)}: {summary}"]
    several_checks = len({t.check for t in tests}) > 1
    for (status, body), group in _same_feedback(failed).items():
        label = "NO CREDIT" if status == "withheld" else status.upper()
        if len(group) == len(tests) > 1:
            cases = f"all {len(tests)} cases"
        else:
            cases = f"{len(group)} case{'s' if len(group) > 1 else ''}: " + "; ".join(
                inert.line(_case_line(t, several_checks, len(group) == 1), None) for t in group)
        lines.append(f"          {paint(label, '33' if status == 'withheld' else '31')} ({cases})")
        if status == "withheld":
            lines.append("            outputs right; no credit (see below)")
        lines += ["            " + line for line in inert.text(body).splitlines()]
    for hint in dict.fromkeys(h for t in failed for h in t.hints):
        lines += ["          " + line for line in inert.text(hint).splitlines()]
    return lines


def _case_line(test: TestResult, with_check: bool, with_shapes: bool) -> str:
    """The case's label (after what its check checks, when its function has several
    checks), with its shapes (the first line of its feedback) when asked."""
    case = (f"{test.case} ({test.shapes})" if with_shapes and _has_case_line(test)
            else test.case)
    return f"{test.check}, {case}" if with_check else case


def _same_feedback(failed: list[TestResult]) -> dict[tuple[str, str], list[TestResult]]:
    """(status, feedback shown) -> the tests whose feedback is the same but for the sizes
    of their errors; shown: the first one's, without its case line, hints and the lines
    of what is right."""
    groups: dict[tuple[str, str], list[TestResult]] = {}
    for test in failed:
        status = "withheld" if test.withheld else test.status
        gist = "\n".join(test.gists.get(line, line) for line in _shown(test).splitlines())
        groups.setdefault((status, gist), []).append(test)
    return {(status, _shown(group[0])): group for (status, _), group in groups.items()}


def _shown(test: TestResult) -> str:
    """Its feedback without its case line, its hints and the lines that say what is right."""
    body = test.output
    if test.hints and body.endswith("\n" + "\n".join(test.hints)):
        body = body[:-len("\n" + "\n".join(test.hints))]
    body = body.partition("\n")[2] if _has_case_line(test) else body
    return "\n".join(line for line in body.splitlines() if line not in test.right)


def _has_case_line(test: TestResult) -> bool:
    """The feedback starts with the case's line, "Case: <label> (<shapes>)": a case that
    was run (engine.run_case; one never run has no shapes)."""
    return test.shapes is not None


def internal_error(reason: str, execution_time: float = 0.0) -> GradingResult:
    """Results when grading could not even start: no test, score 0, the reason."""
    return GradingResult([], execution_time, "The autograder could not grade this "
                         f"submission: internal error, not a verdict on your code ({reason}). "
                         "Please tell your instructor.", grader_error=reason)


def _finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0


def _painter(colour: bool):
    return (lambda text, code: f"\033[{code}m{text}\033[0m") if colour else (lambda text, code: text)
