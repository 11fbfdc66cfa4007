"""The release speaks to students: its README.md and requirements.txt (generated from
autograder/release/student/), with numbers taken from where they are defined."""
import re

import pytest
from packaging.requirements import Requirement

from autograder import data
from autograder.judging.checks import CHECKS
from autograder.release import student_files
from conftest import RELEASE, ROOT

README = (RELEASE / "README.md").read_text(encoding="utf-8")


def _lock_pins() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    return dict(line.lower().split("==") for line in lines if "==" in line)


def test_released_files_are_the_filled_in_templates(tmp_path):
    names = student_files.write_student_files(tmp_path)
    for name in names:
        assert (RELEASE / name).read_bytes() == (tmp_path / name).read_bytes(), name
        assert "$" not in (tmp_path / name).read_text(encoding="utf-8"), f"{name}: unfilled"


def test_requirements_cover_numpy_matplotlib_jupyter_in_working_ranges():
    lines = (RELEASE / "requirements.txt").read_text(encoding="utf-8").splitlines()
    wanted = {r.name.lower(): r for r in map(Requirement, (line for line in lines
                                                            if line and not line.startswith("#")))}
    assert set(wanted) == {"numpy", "matplotlib", "jupyter"}
    pins = _lock_pins()
    for name, requirement in wanted.items():  # the versions the project is tested with
        assert requirement.specifier.contains(pins[name]), (name, pins[name])
        assert requirement.specifier, f"{name} has no range"
    numpy = wanted["numpy"].specifier
    assert numpy.contains(student_files.NUMPY_MIN + ".0") and not numpy.contains("3.0")
    assert numpy.contains(GRADESCOPE_NUMPY)


GRADESCOPE_NUMPY = re.search(r"NUMPY_VERSION=([\d.]+)", (ROOT / "autograder" / "integrations" / "gradescope_files" / "setup.sh").read_text()).group(1)


@pytest.mark.parametrize("needed", [
    "python -m pip install -r requirements.txt",
    "python download_cifar10.py",
    data.CIFAR_URL, data.CIFAR_MD5, "datasets/cifar-10-batches-py", "CIFAR10_DIR", "--md5",
    "python -m autograder check", "`Next:`", "`TODO`",
    "python -m autograder pack", "`rnn_submission.zip`", "Gradescope",
    "Python 3.10–3.13",
])
def test_readme_says_how_to_install_get_data_check_and_submit(needed):
    assert needed in README


def test_readme_points_are_the_graders():
    public = sum(c.points / len(c.cases) for c in CHECKS for case in c.cases if case.public)
    assert sum(c.points for c in CHECKS) == 100
    assert f"the public cases cover {public:.2f} of them" in README
    assert f"decide the other {100 - public:.2f}" in README


def test_readme_needs_no_project_tooling_and_names_only_released_files():
    assert "make " not in README and "autograder data" not in README
    named = set(re.findall(r"`([\w/]+\.(?:py|ipynb|txt))`", README))
    assert named, "no file named"
    for name in named - {"cifar-10-batches-py/data_batch_1"}:
        assert (RELEASE / name).exists(), f"the README names {name}, not in the release"
    assert re.search(r"[\u4e00-\u9fff]", README), "no Chinese line"
