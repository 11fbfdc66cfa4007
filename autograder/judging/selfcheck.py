"""The student's self-check: the public cases of the same checks, before submitting.

    python -m autograder check [FOLDER]        (in the student's assignment folder)

It runs the cases marked public in checks.py, on inputs from a fixed public seed, in
the same sandbox and with the same judges as the grader. The expected outputs were
computed from the reference by `make release` and ship as public_cases.bin (wire
format: plain data, no code). The hidden cases are listed by name, so a student knows
what else is graded. Known-mistake hints need the reference, so only the grader gives
them.

The report is one verdict per graded function, in the notebook's order: PASS, FAIL, or
TODO (it raised NotImplementedError: not written yet), with "fix X first" where a
function it calls fails too, points on the grader's 100-point scale (and the share the
public cases cover), and one "Next:" line. Exit status 0 only when every case passes.
"""
import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.intake import submission as submissions
from autograder.judging.checks import CHECKS, calls_of
from autograder.sandbox.child import functions, wire
from autograder.judging.engine import error_line, expected_output, run_case
from autograder.judging.results import GradingResult, TestResult
from autograder.sandbox.process import StudentProcess

PUBLIC_SEED = 2026_11_24
PUBLIC_CASES = "judging/public_cases.bin"  # in the kit, next to this module
PUBLIC_FILE = Path(__file__).resolve().parent / "public_cases.bin"
# Expected outputs made with matrix products and exp/tanh differ in their last bits from
# one CPU or BLAS kernel to another; the release must not. They are stored rounded to
# 2**-QUANTUM_BITS of their scale (an error of at most 6e-8 of the largest entry, far
# below every tolerance): last-bit noise (~1e-16) then changes no stored byte, unless a
# value lies within that noise of a rounding boundary (about 1e-8 per value).
QUANTUM_BITS = 24
NOISY_KINDS = ("forward", "backward", "scores", "loss")  # the others compute exactly

# Where the notebook (RNN.ipynb) teaches each graded function (child/functions.py);
# CHECKS lists them in this order, the notebook's (tests/test_selfcheck.py holds both to
# the notebook's headings).
NOTEBOOK_SECTIONS = functions.NOTEBOOK_SECTIONS


def public_cases(reference) -> list[dict]:
    """Every public case with its payload and the reference's output."""
    entries = []
    for i, check in enumerate(CHECKS):
        for j, case in enumerate(check.cases):
            if case.public:
                payload = case.make(np.random.default_rng([PUBLIC_SEED, i, j]))
                entries.append({"check": i, "case": j, "payload": payload,
                                "expected": _portable(check, expected_output(check, payload,
                                                                             reference, case))})
    return entries


def _portable(check, expected):
    """The expected output with no bit that depends on the machine that computed it."""
    if check.kind == "overfit":  # judged on the student's own accuracy: no params shipped
        return {"own_accuracy": 1.0}  # only the reply's form (validate.py reads it)
    return round_to_scale(expected) if check.kind in NOISY_KINDS else expected


def round_to_scale(value):
    """Every float array (and float) in value rounded to 2**-QUANTUM_BITS of its scale,
    the power of two at or above its largest magnitude."""
    if isinstance(value, dict):
        return {k: round_to_scale(v) for k, v in value.items()}
    if isinstance(value, list):
        return [round_to_scale(v) for v in value]
    if isinstance(value, float) or (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
        array = np.asarray(value)
        largest = float(np.max(np.abs(array))) if array.size else 0.0
        if not np.isfinite(largest) or largest == 0.0:
            return value
        quantum = 2.0 ** (int(np.ceil(np.log2(largest))) - QUANTUM_BITS)
        rounded = (np.round(array.astype(np.float64) / quantum) * quantum).astype(array.dtype)
        return float(rounded) if isinstance(value, float) else rounded
    return value


def write_public_cases(reference, path: Path) -> None:
    Path(path).write_bytes(wire.encode(public_cases(reference)))


# ----------------------------------------------------------------- running the cases

def check(folder: Path, entries: list[dict]) -> GradingResult:
    """Run the public cases (entries of public_cases) on the student's folder."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rnn-check-") as tmp:
        student_dir, _, notes = submissions.prepare(Path(folder), Path(tmp))
        student = StudentProcess(student_dir)
        try:
            tests = [run_case(CHECKS[e["check"]], CHECKS[e["check"]].cases[e["case"]],
                              e["payload"], e["expected"], student) for e in entries]
        finally:
            student.close()
    return GradingResult(tests, time.monotonic() - start, "\n".join(notes))


# ----------------------------------------------------------------- one verdict per function

@dataclass
class FunctionVerdict:
    """What the public cases say about one graded function or method."""

    target: str  # e.g. "rnn_step_backward", "RNNClassifier.loss"
    state: str  # PASS | FAIL | TODO (NotImplementedError: not written yet)
    points: float  # its points on the grader's 100-point scale, hidden cases included
    public_points: float  # the share of them its public cases carry
    earned: float  # the points of its public cases it earns
    tests: list[TestResult]  # its public tests
    fix_first: list[str]  # functions it calls that fail their own public cases

    @property
    def passed(self) -> int:
        return sum(t.status == "passed" for t in self.tests)


def verdicts(result: GradingResult) -> list[FunctionVerdict]:
    """One verdict per graded function, in the notebook's order (the order of CHECKS);
    provided code (checks worth 0 points) is left out."""
    by_target: dict[str, FunctionVerdict] = {}
    graded = [check for check in CHECKS if check.points]
    calls = calls_of(graded)
    for check in graded:
        verdict = by_target.setdefault(check.target, FunctionVerdict(
            check.target, "PASS", 0.0, 0.0, 0.0, [], []))
        verdict.points += check.points
    for test in result.tests:
        verdict = by_target.get(test.target)
        if verdict is not None:
            verdict.tests.append(test)
            verdict.public_points += test.max_score
            verdict.earned += test.score
    for verdict in by_target.values():
        if any(_not_written(t) for t in verdict.tests):
            verdict.state = "TODO"
        elif any(t.status != "passed" for t in verdict.tests):
            verdict.state = "FAIL"
    for verdict in by_target.values():
        if verdict.state != "PASS":
            verdict.fix_first = [f for f in calls[verdict.target]
                                 if f in by_target and by_target[f].state != "PASS"]
    return list(by_target.values())


def _not_written(test: TestResult) -> bool:
    """The student's code raised NotImplementedError."""
    return test.cause == "not_implemented"


def _provided_failures(result: GradingResult) -> list[TestResult]:
    """Failed tests of provided code (0 points): not graded, but everything relies on it."""
    provided = {check.target for check in CHECKS if check.points == 0}
    return [t for t in result.tests if t.target in provided and t.status != "passed"]


def exit_status(result: GradingResult) -> int:
    """0 when every public case passes, 1 while anything fails."""
    return 0 if all(t.status == "passed" for t in result.tests) else 1


# ----------------------------------------------------------------- the report

def report(result: GradingResult) -> str:
    """What the student reads: a line per function, details, points, hidden cases, Next."""
    functions = verdicts(result)
    graded = [t for v in functions for t in v.tests]
    passed = sum(v.passed for v in functions)
    lines = [f"Self-check on the public cases: {passed} of {len(graded)} passed.",
             f"自查（公开用例）：{len(graded)} 项中通过 {passed} 项。", ""]
    if result.output:
        lines += [result.output, ""]
    lines += [TABLE_HEADER, *(_function_line(v) for v in functions), ""]
    failing = [v for v in functions if v.state != "PASS"]
    if failing:
        lines.append("Still losing points: " + ", ".join(v.target for v in failing) + ".")
        lines += [""] + [line for v in failing for line in _details(v)]
    for test in _provided_failures(result):
        lines += [f"Provided code changed: {test.name} fails (no points, but the graded "
                  "functions rely on it; restore it from the release):",
                  *_indent(test.output, 4), ""]
    lines += _points(functions) + [""] + _hidden_cases() + [""] + _next(failing)
    return "\n".join(lines)


TABLE_HEADER = f"  {'':<4}  {'function':<24} {'public':<6}  {'points':<13}  notebook section"


def _function_line(v: FunctionVerdict) -> str:
    note = f"   (fix {v.fix_first[0]} first)" if v.fix_first else ""
    return (f"  {v.state:<4}  {v.target:<24} {f'{v.passed}/{len(v.tests)}':<6}  "
            f"{f'{v.points:g} of 100':<13}  {_section(v.target)}{note}")


def _details(v: FunctionVerdict) -> list[str]:
    lines = [f"{v.target}: {v.state} (RNN.ipynb section {_section(v.target)}, "
             f"{_module(v.target)})"]
    for test in v.tests:
        if _not_written(test):  # the stub's own message says where; once per function
            line = error_line(test.error)  # as its feedback says it
            if f"  TODO    {line}" not in lines:
                lines.append(f"  TODO    {line}")
        elif test.status != "passed":
            lines += [f"  {test.status.upper():<7} {test.score:.2f}/{test.max_score:.2f}  "
                      f"{test.name}", *_indent(test.output, 10)]
    if v.fix_first:
        one = len(v.fix_first) == 1
        lines.append(f"  {v.target} relies on {', '.join(v.fix_first)}, which "
                     f"{'fails its public case' if one else 'fail their public cases'}: "
                     f"fix {v.fix_first[0]} first.")
    return lines + [""]


def _points(functions: list[FunctionVerdict]) -> list[str]:
    covered = sum(v.public_points for v in functions)
    earned = sum(v.earned for v in functions)
    total = sum(v.points for v in functions)
    return [f"Points, on the grader's {total:g}-point scale: the public cases cover "
            f"{covered:.2f} of them, and those you pass are worth {earned:.2f}; the hidden "
            f"cases decide the other {total - covered:.2f}.",
            f"评分满分 {total:g} 分：公开用例覆盖其中 {covered:.2f} 分，你通过的部分值 {earned:.2f} 分；"
            f"其余 {total - covered:.2f} 分由隐藏用例决定。"]


def _hidden_cases() -> list[str]:
    lines = ["The grader also runs hidden cases with other random inputs:"]
    for check in CHECKS:
        hidden = [case.label for case in check.cases if not case.public]
        if hidden and check.points:
            lines.append(f"  {check.target} ({check.what}): {'; '.join(hidden)}")
    return lines


def _next(failing: list[FunctionVerdict]) -> list[str]:
    if not failing:
        return ["Next: every public case passes: submit. `python -m autograder pack` writes "
                "the zip to hand in; the hidden cases decide the grade.",
                "下一步：公开用例全部通过。运行 python -m autograder pack 生成提交文件；最终成绩由隐藏用例决定。"]
    first = failing[0]
    what = "write" if first.state == "TODO" else "fix"
    return [f"Next: {what} {first.target} ({_module(first.target)}), notebook section "
            f"{_section(first.target)}.",
            f"下一步：{first.target}（{_module(first.target)}，notebook 第 "
            f"{functions.SECTION_NUMBERS.get(first.target, '?')} 节）。"]


def _section(target: str) -> str:
    return NOTEBOOK_SECTIONS.get(target, "?")


def _module(target: str) -> str:
    return functions.FUNCTIONS[target].module + ".py"


def _indent(text: str, width: int) -> list[str]:
    return [" " * width + line for line in text.splitlines()]


# ----------------------------------------------------------------- command line

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", nargs="?", type=Path, default=Path("."),
                        help="the folder with rnn_layers.py (default: here)")


def main(argv: list[str] | None = None) -> int:
    """The student's entry point (the kit's __main__): cases from public_cases.bin."""
    parser = argparse.ArgumentParser(prog="python -m autograder check",
                                     description="Check your work on the public cases.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return _check_and_report(args.folder, wire.decode(PUBLIC_FILE.read_bytes()))


def run(args, config) -> int:
    """The instructor's `python -m autograder check`: cases computed from the reference."""
    from autograder.judging.reference import load_reference

    reference = load_reference(config.solutions_dir / config.assignment)
    return _check_and_report(args.folder, public_cases(reference))


def _check_and_report(folder: Path, entries: list[dict]) -> int:
    """Exit status: 0 all public cases pass, 1 something fails, 2 nothing to check."""
    if hasattr(sys.stdout, "reconfigure"):  # a console that cannot show the Chinese lines
        sys.stdout.reconfigure(errors="replace")  # (say cp1252 on Windows) shows "?"
    try:
        result = check(folder, entries)
    except submissions.SubmissionError as exc:
        print(f"Cannot check {folder}: {exc}")
        return 2
    print(report(result))
    return exit_status(result)
