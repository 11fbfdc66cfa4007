"""Where things are and the defaults of every command, in one frozen dataclass."""
from dataclasses import dataclass
from pathlib import Path

from autograder.sandbox.child import functions

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Config:
    root: Path = ROOT
    assignment: str = "rnn"  # the nbgrader assignment name and the folder name
    solutions_dir: Path = ROOT / "solutions"  # reference modules, with solution markers
    source_dir: Path = ROOT / "source_notebooks"  # nbgrader's "source" folder
    release_dir: Path = ROOT / "assignment"  # nbgrader's "release" folder, committed
    # Files students fill in (lstm_layers.py too: the extension's starter ships to every
    # student); the other .py files in solutions/rnn pass through unchanged.
    student_modules: tuple[str, ...] = tuple(f"{m}.py" for m in functions.ALL_MODULES)
    # Time. A submission gets time_budget seconds in all; tests not reached by then score
    # 0 ("the grading time budget ran out"). Each call gets call_time_floor seconds plus
    # call_time_multiple times what the reference took on the same case (at most the
    # check's own timeout), times timeout_scale, but never less than call_time_min (a
    # fresh student process must start). A function that times out once fails its
    # remaining cases, and the checks that call it, at once.
    time_budget: float = 60.0
    call_time_floor: float = 5.0
    call_time_multiple: float = 50.0
    call_time_min: float = 1.0
    timeout_scale: float = 1.0  # multiplies every per-call time limit (a slow machine: 2)
    # On a busy machine (load per CPU above 1) the budget and every call's limit are
    # multiplied by the load per CPU, measured before the student's code runs, at most
    # max_load_scale (1: never). load_scale is the factor a grading used (machine.py).
    max_load_scale: float = 4.0
    load_scale: float = 1.0
    # Isolation of the student process (autograder/sandbox/isolation.py): "auto" takes the
    # strongest mode this machine allows: "bwrap" (bubblewrap), "jail" (our own
    # namespaces + pivot_root), "user" (root without namespaces: uid switch only) or
    # "none"; naming one forces it (falling to "none" where it does not work).
    isolation: str = "auto"
    # grade / grade-all refuse untrusted code where no isolation works (not root, no
    # user namespaces) unless this is True (--no-isolation).
    allow_no_isolation: bool = False
    # student_user: a uid, "auto" (as root: a uid of its own for each grading process,
    # from student_uids (first, how many), autograder/sandbox/student_uid.py; else the grader's
    # own user) or None (never switch).
    student_user: int | str | None = "auto"
    student_uids: tuple[int, int] = (2_000_000_000, 1000)
    student_group: int | None = None  # gid; None: the same number as the uid
    namespaces: bool = True  # False: never "bwrap" nor "jail"
    hidden_paths: tuple[Path, ...] = ()  # other copies of secrets: refused if readable
    # Limits for the whole student process tree of one grading (autograder/sandbox/limits.py:
    # a cgroup where the machine offers one): memory (bytes, swap included) and
    # processes (threads count too).
    memory_cap: int = 1 << 30
    max_processes: int = 64
    cgroups: bool = True  # False: never use cgroups (the rlimit fallback below)
    # Without cgroups: RLIMIT_NPROC = fallback_processes and an address space of
    # memory_cap / fallback_processes per process, so their product stays under the cap.
    fallback_processes: int = 4
    tmpfs_bytes: int = 32 << 20  # size of each of the student's /submission, /tmp, /dev/shm
    # A case earns its points only when every output of it is right; True gives the
    # share of its outputs (or rules) that are right instead.
    partial_credit: bool = False
    batch_jobs: int = 0  # grade-all's parallel gradings; 0 = one per CPU
    # Set by the instructor's settings file (autograder/settings.py reads and checks it).
    points: tuple[tuple[str, float], ...] = ()  # (graded function, points) overrides
    visibility: str = "visible"  # Gradescope's visibility of each test before the due date
    hint_languages: tuple[str, ...] = ("en", "zh")
    # The optional extensions (functions.EXTENSIONS, e.g. the LSTM; checks.EXTENSION_CHECKS),
    # each set by its own table of the file ([lstm] enabled, points). Off, its file is not
    # required and nothing changes; on, it takes its points of the total (default: the
    # points of its checks). Only what differs from those defaults is held.
    extensions: tuple[tuple[str, bool], ...] = ()  # (extension, on)
    extension_points: tuple[tuple[str, float], ...] = ()  # (extension, its points)
    settings_file: str = ""  # the file these came from ("" = the defaults)
    autograder_zip: Path = ROOT / "build" / "autograder.zip"  # make autograder-zip


DEFAULT = Config()
