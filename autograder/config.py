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


DEFAULT = Config()
