"""The release's README.md and requirements.txt: templates in release/student/, filled in.

The numbers in them come from where they are defined, so they cannot drift: the points
the public cases cover from checks.py, the archive's address and MD5 from data.py.
"""
from pathlib import Path
from string import Template

from autograder.judging.checks import CHECKS, case_points
from autograder.data import CIFAR_MD5, CIFAR_URL

TEMPLATES = Path(__file__).resolve().parent / "student"
FILES = ("README.md", "requirements.txt")
PYTHON_VERSIONS = "3.10–3.13"  # the interpreters the kit and the grader are tested on
NUMPY_MIN = "1.26"  # the oldest NumPy the self-check is tested with (Python 3.10)


def public_points() -> float:
    """Points of the 100 that the public cases carry (a check's points split by case)."""
    return sum(points for check in CHECKS
               for case, points in zip(check.cases, case_points(check)) if case.public)


def values() -> dict[str, str]:
    total = sum(check.points for check in CHECKS)
    public = public_points()
    return {"python_versions": PYTHON_VERSIONS, "numpy_min": NUMPY_MIN,
            "cifar_url": CIFAR_URL, "cifar_md5": CIFAR_MD5, "cifar_size": "163 MB",
            "public_points": f"{public:.2f}", "hidden_points": f"{total - public:.2f}"}


def write_student_files(stage: Path) -> list[str]:
    """Write README.md and requirements.txt into the release folder; return their names."""
    filled = values()
    for name in FILES:
        text = Template((TEMPLATES / name).read_text(encoding="utf-8")).substitute(filled)
        (stage / name).write_bytes(text.encode("utf-8"))  # "\n" line ends on every OS
    return list(FILES)
