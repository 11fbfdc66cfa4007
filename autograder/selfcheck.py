"""The student's self-check: the public cases of the same checks, before submitting.

    python -m autograder check [FOLDER]        (in the student's assignment folder)

It runs the cases marked public in checks.py, on inputs from a fixed public seed, in
the same sandbox and with the same judges as the grader. The expected outputs were
computed from the reference by `make release` and ship as public_cases.bin (wire
format: plain data, no code). The hidden cases are listed by name, so a student knows
what else is graded. Known-mistake hints need the reference, so only the grader gives
them.
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from autograder import submission as submissions
from autograder.checks import CHECKS
from autograder.child import wire
from autograder.engine import expected_output, run_case
from autograder.results import GradingResult
from autograder.sandbox import StudentProcess

PUBLIC_SEED = 2026_11_24
PUBLIC_FILE = Path(__file__).resolve().parent / "public_cases.bin"


def public_cases(reference) -> list[dict]:
    """Every public case with its payload and the reference's output."""
    entries = []
    for i, check in enumerate(CHECKS):
        for j, case in enumerate(check.cases):
            if case.public:
                payload = case.make(np.random.default_rng([PUBLIC_SEED, i, j]))
                entries.append({"check": i, "case": j, "payload": payload,
                                "expected": expected_output(check, payload, reference)})
    return entries


def write_public_cases(reference, path: Path) -> None:
    Path(path).write_bytes(wire.encode(public_cases(reference)))


def check(folder: Path, entries: list[dict]) -> GradingResult:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rnn-check-") as tmp:
        student_dir, _, notes = submissions.prepare(Path(folder), Path(tmp))
        student = StudentProcess(student_dir)
        try:
            tests = [run_case(CHECKS[e["check"]], CHECKS[e["check"]].cases[e["case"]],
                              e["payload"], e["expected"], student) for e in entries]
        finally:
            student.close()
    result = GradingResult(tests, time.monotonic() - start)
    result.output = "\n".join([_summary(result), *notes])
    return result


def _summary(result: GradingResult) -> str:
    failing = sorted({t.target for t in result.tests if t.status != "passed"})
    lines = [f"Self-check on the public cases: {sum(t.status == 'passed' for t in result.tests)}"
             f" of {len(result.tests)} passed."]
    if failing:
        lines.append("Still losing points: " + ", ".join(failing) + " (details below).")
    lines.append("The grader also runs hidden cases with other random inputs:")
    for check in CHECKS:
        hidden = [case.label for case in check.cases if not case.public]
        if hidden:
            lines.append(f"  {check.target} ({check.what}): {'; '.join(hidden)}")
    return "\n".join(lines)


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
    from autograder.reference import load_reference

    reference = load_reference(config.solutions_dir / config.assignment)
    return _check_and_report(args.folder, public_cases(reference))


def _check_and_report(folder: Path, entries: list[dict]) -> int:
    try:
        print(check(folder, entries).report())
    except submissions.SubmissionError as exc:
        print(f"Cannot check {folder}: {exc}")
        return 2
    return 0
