"""Where things are and the defaults of every command, in one frozen dataclass."""
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Config:
    root: Path = ROOT
    assignment: str = "rnn"  # the nbgrader assignment name and the folder name
    solutions_dir: Path = ROOT / "solutions"  # reference modules, with solution markers
    source_dir: Path = ROOT / "source_notebooks"  # nbgrader's "source" folder
    release_dir: Path = ROOT / "assignment"  # nbgrader's "release" folder, committed
    # Files students fill in; the other .py files in solutions/rnn pass through unchanged.
    student_modules: tuple[str, ...] = ("rnn_layers.py", "rnn_classifier.py")
    time_budget: float = 300.0  # seconds for grading one submission; later tests score 0
    timeout_scale: float = 1.0  # multiplies every check's per-case time limit
    # Isolation of the student process (autograder/isolation.py, autograder/child/jail.py).
    # student_user: a uid, "auto" (uid 65534 "nobody" when the grader runs as root, else
    # the grader's own user) or None (never switch). Where namespaces are unavailable
    # (Gradescope), the solutions must not be world-readable: the Gradescope setup runs
    # `chmod -R go-rwx /autograder/source`, and grading warns when they are readable.
    student_user: int | str | None = "auto"
    student_group: int | None = None  # gid; None: the same number as the uid
    namespaces: bool = True  # private mount/PID/network namespaces when the kernel allows
    hidden_paths: tuple[Path, ...] = ()  # also hidden from the student (besides root)
    max_processes: int = 64  # RLIMIT_NPROC of the unprivileged student user
    # A backward that takes more than this many times its own forward's time on a larger
    # hidden case is differentiating numerically: no credit for it.
    numeric_backward_ratio: float = 40.0
    batch_jobs: int = 0  # grade-all's parallel gradings; 0 = one per CPU
    autograder_zip: Path = ROOT / "build" / "autograder.zip"  # make autograder-zip


DEFAULT = Config()
