"""Run by path from the notebook's hidden test cells: the instructor's grade_function.

The submitted folder holds the students' self-check kit, also named `autograder`, and
it comes first on the kernel's path; so this file, run with runpy.run_path, puts the
instructor's package first and drops any other `autograder` module already imported,
then exports autograder.nbgrader_bridge.grade_function (whose cache lives in that
module, so the submission is graded once per kernel).
"""
import sys
from pathlib import Path

_HOME = str(Path(__file__).resolve().parent.parent)
if sys.path[:1] != [_HOME]:
    sys.path.insert(0, _HOME)
for _name in list(sys.modules):
    _file = str(getattr(sys.modules[_name], "__file__", "") or "")
    if _name.split(".")[0] == "autograder" and not _file.startswith(_HOME):
        del sys.modules[_name]  # a copy of the kit, or anything posing as the grader

from autograder.nbgrader_bridge import grade_function  # noqa: E402,F401
