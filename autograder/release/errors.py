"""One exception class per way a release can fail; every message quotes file:line."""


class ReleaseError(Exception):
    """Base class: the release stopped, and assignment/ was left as it was."""


class MarkerError(ReleaseError):
    """Malformed solution markers: BEGIN without END, END without BEGIN, nested BEGIN,
    or a marker that is not on a line of its own."""


class BannerError(ReleaseError):
    """A solution region without a `# TODO` comment banner directly above it."""


class StarterError(ReleaseError):
    """A starter cannot be built: a region outside any function, a starter that does not
    compile, or a student module missing from solutions/."""


class NotebookError(ReleaseError):
    """No source notebook, or `nbgrader generate_assignment` failed."""


class LeakError(ReleaseError):
    """A solution line, a hidden test or a leftover marker was found in the release."""
