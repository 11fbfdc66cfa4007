"""nbgrader's region markers (### BEGIN SOLUTION / ### END SOLUTION, ...), parsed strictly.

A region runs from a BEGIN line to the next matching END line. In the reference `.py`
files a marker must be a whole line (any indentation); in notebook cells nbgrader accepts
the marker words anywhere in a line, so `whole_line=False` parses the way nbgrader does.
Either way a BEGIN without END, an END without BEGIN or a nested BEGIN is a MarkerError
that names the file (or cell) and the line.
"""
from dataclasses import dataclass

from autograder.release.errors import MarkerError


@dataclass(frozen=True)
class Markers:
    """A pair of marker lines, e.g. `### BEGIN SOLUTION` / `### END SOLUTION`."""

    begin: str
    end: str

    @property
    def words(self) -> tuple[str, str]:
        """The markers without the comment mark, as nbgrader matches them in cells."""
        return self.begin.lstrip("#").strip(), self.end.lstrip("#").strip()


SOLUTION = Markers("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS = Markers("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
MARK_SCHEME = Markers("### BEGIN MARK SCHEME", "### END MARK SCHEME")
ALL_MARKERS = (SOLUTION, HIDDEN_TESTS, MARK_SCHEME)
# Text that must never reach students, whatever surrounds it.
MARKER_WORDS = tuple(word for markers in ALL_MARKERS for word in markers.words)


@dataclass(frozen=True)
class Region:
    """One marked region; line numbers count from 1, as editors and tracebacks do."""

    begin: int  # the BEGIN marker's line
    end: int  # the END marker's line
    indent: str  # the BEGIN marker's indentation

    @property
    def body(self) -> range:
        """Line numbers strictly between the two markers."""
        return range(self.begin + 1, self.end)


def find_regions(lines: list[str], where: str, markers: Markers = SOLUTION,
                 whole_line: bool = True) -> list[Region]:
    """Every region of `markers` in `lines` (with or without line endings), in order.

    `where` names the file or cell in error messages: "<where>:<line>: ...".
    """
    begin_word, end_word = markers.words
    regions: list[Region] = []
    open_at: int | None = None  # line of the BEGIN of the region we are in
    indent = ""
    for number, line in enumerate(lines, start=1):
        kind = _marker_kind(line, markers, whole_line, where, number)
        if kind == "begin":
            if open_at is not None:
                raise MarkerError(f"{where}:{number}: nested '{markers.begin}': the region "
                                  f"opened at line {open_at} has no '{markers.end}' before it")
            open_at, indent = number, line[:len(line) - len(line.lstrip())]
        elif kind == "end":
            if open_at is None:
                raise MarkerError(f"{where}:{number}: '{markers.end}' without a "
                                  f"'{markers.begin}' before it")
            regions.append(Region(open_at, number, indent))
            open_at = None
    if open_at is not None:
        raise MarkerError(f"{where}:{open_at}: '{markers.begin}' has no matching "
                          f"'{markers.end}' ({begin_word} without END)")
    return regions


def _marker_kind(line: str, markers: Markers, whole_line: bool, where: str,
                 number: int) -> str | None:
    """'begin', 'end' or None for one line."""
    begin_word, end_word = markers.words
    text = line.strip()
    if whole_line:
        if text == markers.begin:
            return "begin"
        if text == markers.end:
            return "end"
        for word in (begin_word, end_word):
            if word in text:  # e.g. `x = 1  ### BEGIN SOLUTION`, or `## END SOLUTION`
                raise MarkerError(f"{where}:{number}: '{word}' must be a line of its own, "
                                  f"exactly '### {word}'; found {text!r}")
        return None
    if begin_word in text:
        return "begin"
    if end_word in text:
        return "end"
    return None
