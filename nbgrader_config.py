"""nbgrader's course configuration: this repository is the course directory.

    source/     -> source_notebooks/        (solutions + graded cells)
    release/    -> build/nbgrader/release/  (nbgrader's own output, nothing else; git-ignored)
    submitted/, autograded/, feedback/      (nbgrader's defaults; git-ignored)
    gradebook.db                            (nbgrader's default; git-ignored)

The student release is assignment/, built by `make release`: nbgrader's generated
notebook plus the starters, the provided modules and the self-check kit, none of which
nbgrader knows about. nbgrader's release folder is kept apart from it, so no nbgrader
command (`generate_assignment --force` removes the whole release folder it writes to)
ever deletes or changes anything in assignment/. `make release` also registers the
assignment, its notebook and its cells in this course's gradebook (nbgrader
generate_assignment with the database), so that `nbgrader autograde rnn` works at once.

`nbgrader autograde rnn` runs the graded cells, which grade through the same engine as
`python -m autograder grade` (see autograder/integrations/nbgrader_bridge.py).
"""
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)
c.CourseDirectory.root = str(HERE)
c.CourseDirectory.course_id = "rnn"
c.CourseDirectory.source_directory = "source_notebooks"
c.CourseDirectory.release_directory = os.path.join("build", "nbgrader", "release")
# Never copied from the source folder into a release or an autograded folder (nbgrader's
# defaults, and the CIFAR-10 copy an instructor may keep next to the source notebook).
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                            "datasets"]
c.Execute.timeout = 300  # seconds per cell; the CIFAR cells train for a few seconds

# The graded cells find this course's grader here (never a student's kit), whatever an
# environment inherited from elsewhere says.
os.environ["RNN_GRADER_BRIDGE"] = str(HERE / "autograder" / "integrations" / "nbgrader_entry.py")
