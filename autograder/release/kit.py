"""The self-check kit that ships in the release: `python -m autograder check`.

It is the grader's own engine (same sandbox, same checks, same judges) without what
must stay with the instructor: no reference solution, no known-mistake hints (they
compute with the reference), no secret, no grading or release code. The expected
outputs of the public cases come precomputed in public_cases.bin (plain data).
The leak scan then checks the kit like every other released file.
"""
import re
from pathlib import Path

from autograder.judging.reference import load_reference
from autograder.judging.selfcheck import PUBLIC_CASES, write_public_cases

PACKAGE = Path(__file__).resolve().parent.parent  # autograder/

# The modules the self-check needs, and nothing else.
MODULES = ("intake/__init__.py", "judging/__init__.py", "sandbox/__init__.py",
           "sandbox/child/__init__.py", "judging/checks.py", "judging/cases.py",
           "judging/domains.py", "judging/compare.py", "judging/engine.py",
           "judging/judges.py", "judging/train_rules.py", "judging/serve.py",
           "judging/train_serve.py", "judging/results.py", "sandbox/process.py",
           "sandbox/channel.py", "judging/selfcheck.py", "intake/submission.py",
           "intake/inert.py",
           "judging/validate.py", "intake/zip_listing.py", "intake/pack.py",
           "sandbox/child/wire.py", "sandbox/child/functions.py",
           "sandbox/child/layer_ops.py", "sandbox/child/classifier_ops.py",
           "sandbox/child/served.py", "sandbox/child/jail.py", "sandbox/child/worker.py")

INIT = '''"""Check your work before you submit: python -m autograder check
Then write the zip to hand in: python -m autograder pack
提交前自查：在本文件夹中运行 python -m autograder check；再运行 python -m autograder pack 生成提交文件

It runs the public cases of the grader's own checks on your rnn_layers.py and
rnn_classifier.py, in a separate process, and says what would still lose points.
The grader also runs hidden cases (other shapes, float32, edge cases).
"""
'''

# Runs before anything imports NumPy: a student without it (or with too old a Python)
# reads what to install instead of a traceback. `pack` needs no NumPy.
MAIN = '''import sys

if sys.version_info < (3, 10):
    sys.exit(f"The self-check needs Python 3.10 or newer; this is {sys.version.split()[0]} "
             f"({sys.executable}).\\n自查需要 Python 3.10 或更高版本。")
if sys.argv[1:2] == ["pack"]:  # python -m autograder pack [FOLDER]
    from autograder.intake.pack import main as pack

    sys.exit(pack(sys.argv[2:]))
try:
    import numpy  # noqa: F401  (the only package the self-check needs)
except ImportError:
    sys.exit(f"The self-check needs NumPy, which {sys.executable} cannot import.\\n"
             "Install it in this folder with:  python -m pip install -r requirements.txt\\n"
             "自查需要 NumPy，请先运行：python -m pip install -r requirements.txt")

from autograder.judging.selfcheck import main

arguments = sys.argv[1:]
if arguments[:1] == ["check"]:  # python -m autograder check [FOLDER]
    arguments = arguments[1:]
sys.exit(main(arguments))
'''


KIT = "rnnkit"  # the kit's own package name: never confused with the grader's
SHIM = ('"""`python -m autograder check` and `python -m autograder pack` in this folder run the'
        ' kit, rnnkit/."""\nimport runpy\n\nrunpy.run_module("rnnkit", run_name="__main__",'
        ' alter_sys=True)\n')
_GRADER_IMPORT = re.compile(r"^([ \t]*)(from|import) autograder(?=[.\s])", re.M)


def as_kit(source: str) -> str:
    """A grader module's imports, pointed at the kit's package."""
    return _GRADER_IMPORT.sub(rf"\1\2 {KIT}", source)


def write_kit(stage: Path, solution_dir: Path) -> list[str]:
    """Write stage/rnnkit/ (the kit) and stage/autograder/__main__.py (the shim that keeps
    `python -m autograder check|pack` working: a folder without __init__.py, so the
    instructor's regular package always wins over it); return their file names."""
    kit = stage / KIT
    for name in MODULES:
        (kit / name).parent.mkdir(parents=True, exist_ok=True)
        source = (PACKAGE / name).read_text(encoding="utf-8")
        (kit / name).write_text(as_kit(source), encoding="utf-8")
    (kit / "__init__.py").write_text(INIT, encoding="utf-8")
    (kit / "__main__.py").write_text(as_kit(MAIN), encoding="utf-8")
    (stage / "autograder").mkdir()
    (stage / "autograder" / "__main__.py").write_text(SHIM, encoding="utf-8")
    write_public_cases(load_reference(solution_dir), kit / PUBLIC_CASES)
    files = [*kit.rglob("*"), stage / "autograder" / "__main__.py"]
    return sorted(str(p.relative_to(stage)) for p in files if p.is_file())
