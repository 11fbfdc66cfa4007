"""Comparisons of a student's value with the reference's, in the grader's process.

The student's value arrives as a plain array rebuilt from bytes (or as a description of
something that was not an array), so nothing of the student's can take part in the
comparison. The error is scale-aware, max |got - expected| / max |expected|, so that
a correct implementation summing in another order is never failed by a near-zero entry.
"""
from dataclasses import dataclass, field

import numpy as np

from rnnkit.sandbox.child import wire

FLOAT32_TOLERANCE = 2e-4  # float32 carries ~7 digits; sums over T steps lose some


class Line(str):
    """A line of feedback, with what the report reads of it as data (never from its
    text): `right`, it says that a part is right (the report shows what is wrong), and
    `gist`, the line without its measured sizes (cases whose lines differ only there
    say the same, and are shown together)."""
    right: bool
    gist: str

    def __new__(cls, text: str, right: bool = False, gist: str | None = None):
        line = super().__new__(cls, text)
        line.right, line.gist = right, text if gist is None else gist
        return line

    def __reduce__(self):  # pickled (a worker process's results) with its data
        return Line, (str(self), self.right, self.gist)


class Hint(str):
    """A hint as the student reads it, "Hint: <English>" and "提示：<Chinese>" on the next
    line, that keeps its two languages as data (hints.in_languages picks them)."""
    en: str
    zh: str

    def __new__(cls, en: str, zh: str):
        hint = super().__new__(cls, f"Hint: {en}\n      提示：{zh}")
        hint.en, hint.zh = en, zh
        return hint

    def __reduce__(self):
        return Hint, (self.en, self.zh)


def right_lines(lines) -> tuple[str, ...]:
    """The lines (Line) that say a part is right."""
    return tuple(str(line) for line in lines if getattr(line, "right", False))


def gists(lines) -> dict[str, str]:
    """line -> its gist, for the lines (Line) with measured sizes."""
    return {str(line): line.gist for line in lines if getattr(line, "gist", line) != line}


@dataclass(frozen=True)
class Comparison:
    name: str  # the output compared, e.g. "dWx"
    ok: bool
    error: float  # scale-aware relative error (inf when not comparable)
    message: str  # one line for the student
    reason: str = ""  # why it is wrong: missing, shape, dtype, nonfinite or value


@dataclass
class Verdict:
    """A judge's decision on one case: what was checked, what is wrong and why.

    A case earns its points only when every part is right (engine: all or nothing,
    unless per-part credit is configured). `wrong` maps each wrong output (or rule) to
    its reason; hints and the "fix X first" notes read it, never the lines' text.
    `blame` says which pass of the student's code the evidence points to: "" (none),
    "backward" or the name of the forward function that broke its inputs or cache."""
    passed: int  # parts right
    total: int  # parts checked
    lines: list[str]  # feedback, one line per thing checked
    wrong: dict[str, str] = field(default_factory=dict)  # output or rule -> reason
    hints: list[str] = field(default_factory=list)  # known mistakes, verified on this case
    blame: str = ""

    @classmethod
    def of(cls, passed: int, total: int, lines: list[str], wrong: dict | None = None):
        return cls(passed, total, lines, dict(wrong or {}))

    @property
    def fraction(self) -> float:
        """Share of the parts right (per-part credit)."""
        return self.passed / self.total if self.total else 0.0

    @property
    def ok(self) -> bool:
        return self.passed == self.total and not self.wrong


def describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, wire.Unsupported):
        return value.description
    return "None" if value is None else f"a {type(value).__name__}"


def relative_error(expected: np.ndarray, got: np.ndarray) -> float:
    expected, got = np.asarray(expected, np.float64), np.asarray(got, np.float64)
    if expected.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(expected))), 1e-12)
    return float(np.max(np.abs(got - expected))) / scale


def compare_array(name: str, expected: np.ndarray, got, tolerance: float,
                  shape_letters: str = "") -> Comparison:
    """Shape, dtype, finiteness, then values of one output."""
    expected = np.asarray(expected)
    if isinstance(got, (float, int)) and not isinstance(got, bool) and expected.ndim == 0:
        got = np.asarray(got, dtype=np.float64)
    if not isinstance(got, np.ndarray):
        return Comparison(name, False, float("inf"),
                          f"{name} is {describe(got)}; expected an array of shape "
                          f"{_shape(expected, shape_letters)}", "missing")
    if got.shape != expected.shape:
        return Comparison(name, False, float("inf"),
                          f"{name} has shape {got.shape}; expected "
                          f"{_shape(expected, shape_letters)}"
                          f"{shape_hint(got.shape, expected.shape)}", "shape")
    if expected.dtype.kind == "f" and expected.ndim and got.dtype != expected.dtype:
        return Comparison(name, False, float("inf"),
                          f"{name} has dtype {got.dtype}; {expected.dtype} inputs must give "
                          f"{expected.dtype} (keep the inputs' dtype)", "dtype")
    if got.dtype.kind == "f" and not np.all(np.isfinite(got)):
        return Comparison(name, False, float("inf"), f"{name} contains NaN or inf",
                          "nonfinite")
    tol = max(tolerance, FLOAT32_TOLERANCE) if expected.dtype == np.float32 else tolerance
    error = relative_error(expected, got)
    verdict = "ok" if error <= tol else "WRONG"
    return Comparison(name, error <= tol, error,
                      Line(f"{name}: relative error {error:.1e} (tolerance {tol:.0e}) {verdict}",
                           error <= tol, f"{name}: relative error … {verdict}"),
                      "" if error <= tol else "value")


def compare_labels(name: str, expected: np.ndarray, got) -> Comparison:
    """Integer labels must match exactly."""
    if not isinstance(got, np.ndarray) or got.shape != expected.shape:
        return Comparison(name, False, float("inf"),
                          f"{name} is {describe(got)}; expected shape {expected.shape}", "shape")
    if got.dtype.kind not in "iu":
        return Comparison(name, False, float("inf"),
                          f"{name} has dtype {got.dtype}; expected integer labels", "dtype")
    wrong = int(np.sum(got != expected))
    return Comparison(name, wrong == 0, float(wrong),
                      f"{name}: {wrong} of {expected.size} labels differ from the reference",
                      "" if wrong == 0 else "value")


def _shape(expected: np.ndarray, letters: str) -> str:
    return f"({letters}) = {expected.shape}" if letters else str(expected.shape)


def shape_hint(got: tuple, want: tuple) -> str:
    """What a wrong shape most likely comes from, when the shapes say it."""
    if len(got) == 2 and got == want[::-1] and got != want:
        return ("  (its axes swapped: a matrix product in the wrong order, or an array "
                "created with its axes the other way round?)")
    if len(got) == len(want) + 1 and got[1:] == want:
        if got[0] == 1:
            return "  (an extra leading axis of length 1: keepdims=True, or a missing [0]?)"
        return "  (one row per sample: sum over the batch axis)"
    return ""
