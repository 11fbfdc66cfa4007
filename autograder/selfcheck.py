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
# Expected outputs made with matrix products and exp/tanh differ in their last bits from
# one CPU or BLAS kernel to another; the release must not. They are stored rounded to
# 2**-QUANTUM_BITS of their scale (an error of at most 6e-8 of the largest entry, far
# below every tolerance): last-bit noise (~1e-16) then changes no stored byte, unless a
# value lies within that noise of a rounding boundary (about 1e-8 per value).
QUANTUM_BITS = 24
NOISY_KINDS = ("forward", "backward", "scores", "loss")  # the others compute exactly


def public_cases(reference) -> list[dict]:
    """Every public case with its payload and the reference's output."""
    entries = []
    for i, check in enumerate(CHECKS):
        for j, case in enumerate(check.cases):
            if case.public:
                payload = case.make(np.random.default_rng([PUBLIC_SEED, i, j]))
                entries.append({"check": i, "case": j, "payload": payload,
                                "expected": _portable(check, expected_output(check, payload,
                                                                             reference))})
    return entries


def _portable(check, expected):
    """The expected output with no bit that depends on the machine that computed it."""
    if check.kind == "overfit":  # judged on the student's own accuracy: nothing to ship
        return {}
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
