"""The leak scan: no solution line, hidden test or marker may reach students.

Secrets are the lines inside solution regions of the reference `.py` files, and inside
solution, hidden-test and mark-scheme regions of the source notebooks (a solution cell
without markers is a secret as a whole, as nbgrader replaces all of it). A line that
also appears outside every region of those sources is public, and so are blank lines
and lines of fewer than MIN_CHARS non-space characters (`else:`, `return h`).
Lines are compared with their whitespace collapsed.
"""
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.release.errors import LeakError
from autograder.release.markers import (HIDDEN_TESTS, MARK_SCHEME, MARKER_WORDS, SOLUTION,
                                        Region, find_regions)

MIN_CHARS = 8  # shorter lines (`else:`, `break`) are too common to mean anything
MAX_REPORTED = 20  # findings listed in the error; the rest are counted


@dataclass(frozen=True)
class ScanReport:
    files: int  # files scanned
    secrets: int  # distinct secret lines looked for


def normalise(line: str) -> str:
    return " ".join(line.split())


def collect_secrets(py_files: list[Path], notebooks: list[Path],
                    label=str) -> dict[str, str]:
    """{normalised secret line: "source:line" where it comes from}.

    `label(path)` is how a source is named in the report (default: its path).
    """
    secret: dict[str, str] = {}
    public: set[str] = set()
    for path in py_files:
        lines = path.read_text(encoding="utf-8").splitlines()
        regions = find_regions(lines, label(path), SOLUTION)
        _sort_lines(lines, regions, f"{label(path)}:{{}}", secret, public)
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            where = f"{label(path)} cell {index}"
            lines = cell.source.split("\n")
            regions = [region for markers in (SOLUTION, HIDDEN_TESTS, MARK_SCHEME)
                       for region in find_regions(lines, where, markers, whole_line=False)]
            if _is_solution(cell) and not find_regions(lines, where, SOLUTION, False):
                regions.append(_whole(lines))
            _sort_lines(lines, regions, f"{where} line {{}}", secret, public)
    return {text: origin for text, origin in secret.items() if text not in public}


def scan(release: Path, secrets: dict[str, str], label=str) -> ScanReport:
    """Look at every file under `release`; raise LeakError listing what was found."""
    findings: list[str] = []
    files = sorted(path for path in release.rglob("*") if path.is_file())
    for path in files:
        for where, line in _lines(path, label(path)):
            for word in MARKER_WORDS:
                if word in line:
                    findings.append(f"{where}: leftover marker {word!r}")
            text = normalise(line)
            if text in secrets:
                findings.append(f"{where}: solution line {text!r} (from {secrets[text]})")
    if findings:
        listed = "\n  ".join(findings[:MAX_REPORTED])
        more = len(findings) - MAX_REPORTED
        raise LeakError(f"the release leaks {len(findings)} line(s) students must not see:"
                        f"\n  {listed}" + (f"\n  ... and {more} more" if more > 0 else ""))
    return ScanReport(files=len(files), secrets=len(secrets))


def _sort_lines(lines, regions, origin: str, secret: dict, public: set) -> None:
    """Put every significant line of one source into `secret` or `public`."""
    inside = {number for region in regions for number in region.body}
    markers = {number for region in regions for number in (region.begin, region.end)}
    for number, line in enumerate(lines, start=1):
        text = normalise(line)
        if len(text.replace(" ", "")) < MIN_CHARS or number in markers:
            continue
        if number in inside:
            secret.setdefault(text, origin.format(number))
        else:
            public.add(text)


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
