"""The leak scan: no solution line, hidden test or marker may reach students.

Secrets are the lines inside solution regions of the reference `.py` files, and inside
solution, hidden-test and mark-scheme regions of the source notebooks (a solution cell
without markers is a secret as a whole, as nbgrader replaces all of it). Every line of
a solution region with at least MIN_CHARS non-space characters is a secret wherever
else it appears: a provided module, a demonstration cell or the kit that shows it
hands out the answer, so it fails the release too. The one exception: a line of a
hidden-test or mark-scheme region that also stands outside the regions of its own cell
(a visible test repeated among the hidden ones) is public. Shorter lines (`else:`,
`return h`) mean nothing on their own. Lines are compared with their whitespace
collapsed, with and without a trailing comment; TRIVIAL lists the few longer lines that
are common knowledge.
"""
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.release.errors import LeakError
from autograder.release.markers import (HIDDEN_TESTS, MARK_SCHEME, MARKER_WORDS, SOLUTION,
                                        Region, find_regions)

MIN_CHARS = 8  # shorter lines (`else:`, `break`) are too common to mean anything
# Longer lines that give nothing away, reviewed one by one: the contract's own words.
TRIVIAL = frozenset({
    "if y is None:",  # RNNClassifier.loss: "with y=None returns class scores"
})
MAX_REPORTED = 20  # findings listed in the error; the rest are counted


@dataclass(frozen=True)
class ScanReport:
    files: int  # files scanned
    secrets: int  # distinct secret lines looked for


def normalise(line: str) -> str:
    return " ".join(line.split())


def forms(line: str) -> set[str]:
    """The significant ways to compare one line: whole, and without a trailing `#`
    comment (a copy that drops or changes the comment is the same code)."""
    found = {normalise(line), normalise(_without_comment(line))}
    return {text for text in found
            if len(text.replace(" ", "")) >= MIN_CHARS and text not in TRIVIAL}


def _without_comment(line: str) -> str:
    """`line` up to a `#` that is not inside a string literal."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[:index]
    return line


def collect_secrets(py_files: list[Path], notebooks: list[Path],
                    label=str) -> dict[str, str]:
    """{normalised secret line: "source:line" where it comes from}.

    `label(path)` is how a source is named in the report (default: its path).
    """
    secret: dict[str, str] = {}
    for path in py_files:
        lines = path.read_text(encoding="utf-8").splitlines()
        regions = find_regions(lines, label(path), SOLUTION)
        secret.update(_region_lines(lines, regions, f"{label(path)}:{{}}", secret))
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            where = f"{label(path)} cell {index}"
            lines = cell.source.split("\n")
            solutions = find_regions(lines, where, SOLUTION, whole_line=False)
            if _is_solution(cell) and not solutions:
                solutions = [_whole(lines)]
            tests = [region for markers in (HIDDEN_TESTS, MARK_SCHEME)
                     for region in find_regions(lines, where, markers, whole_line=False)]
            origin = f"{where} line {{}}"
            visible = _outside(lines, solutions + tests)
            hidden = _region_lines(lines, tests, origin, secret)
            secret.update({text: o for text, o in hidden.items() if text not in visible})
            secret.update(_region_lines(lines, solutions, origin, secret))
    return secret


def scan(release: Path, secrets: dict[str, str], label=str) -> ScanReport:
    """Look at every file under `release`; raise LeakError listing what was found."""
    findings: list[str] = []
    files = sorted(path for path in release.rglob("*") if path.is_file())
    for path in files:
        for where, line in _lines(path, label(path)):
            for word in MARKER_WORDS:
                if word in line:
                    findings.append(f"{where}: leftover marker {word!r}")
            for text in sorted(forms(line)):
                if text in secrets:
                    findings.append(f"{where}: solution line {text!r} (from {secrets[text]})")
                    break
    if findings:
        listed = "\n  ".join(findings[:MAX_REPORTED])
        more = len(findings) - MAX_REPORTED
        raise LeakError(f"the release leaks {len(findings)} line(s) students must not see:"
                        f"\n  {listed}" + (f"\n  ... and {more} more" if more > 0 else ""))
    return ScanReport(files=len(files), secrets=len(secrets))


def _region_lines(lines, regions, origin: str, known: dict) -> dict[str, str]:
    """{form of a line inside `regions`: where it is}, first origins (`known`) kept."""
    found: dict[str, str] = {}
    for region in regions:
        for number in region.body:
            for text in forms(lines[number - 1]) if number <= len(lines) else ():
                if text not in known and text not in found:
                    found[text] = origin.format(number)
    return found


def _outside(lines, regions) -> set[str]:
    """The forms of the lines of one cell outside its regions and their markers."""
    covered = {n for region in regions for n in range(region.begin, region.end + 1)}
    return {text for number, line in enumerate(lines, start=1) if number not in covered
            for text in forms(line)}


def _is_solution(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))


def _whole(lines: list[str]) -> Region:
    """A pseudo-region whose body is every line of a cell."""
    return Region(begin=0, end=len(lines) + 1, indent="")


def _lines(path: Path, where: str):
    """(location, line) of every line students get: notebook cells line by line, the raw
    text of any other file; binary files are searched for marker words only."""
    data = path.read_bytes()
    if path.suffix == ".ipynb":
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        for index, cell in enumerate(nb.cells):
            for number, line in enumerate(cell.source.split("\n"), start=1):
                yield f"{where} cell {index} line {number}", line
            for k, output in enumerate(cell.get("outputs", [])):
                texts = [output.get("text", "")] + list(output.get("data", {}).values())
                text = "".join(t if isinstance(t, str) else "".join(t) for t in texts
                               if isinstance(t, (str, list)))
                for number, line in enumerate(text.splitlines(), start=1):
                    yield f"{where} cell {index} output {k} line {number}", line
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        for word in MARKER_WORDS:
            if word.encode() in data:
                yield f"{where} (binary)", word
        return
    for number, line in enumerate(text.splitlines(), start=1):
        yield f"{where}:{number}", line
