"""The self-check kit that ships in the release: `python -m autograder check`.

It is the grader's own engine (same sandbox, same checks, same judges) without what
must stay with the instructor: no reference solution, no known-mistake hints (they
compute with the reference), no secret, no grading or release code. The expected
outputs of the public cases come precomputed in public_cases.bin (plain data).
The leak scan then checks the kit like every other released file.
"""
import shutil
from pathlib import Path

from autograder.reference import load_reference
from autograder.selfcheck import write_public_cases

PACKAGE = Path(__file__).resolve().parent.parent  # autograder/

# The modules the self-check needs, and nothing else.
MODULES = ("checks.py", "cases.py", "domains.py", "compare.py", "engine.py", "judges.py",
           "train_rules.py",
           "serve.py", "train_serve.py",
           "results.py", "sandbox.py", "selfcheck.py", "submission.py", "inert.py",
           "validate.py", "zip_listing.py", "pack.py",
           "child/__init__.py", "child/wire.py", "child/functions.py", "child/layer_ops.py",
           "child/classifier_ops.py", "child/served.py", "child/jail.py", "child/worker.py")

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
    from autograder.pack import main as pack

    sys.exit(pack(sys.argv[2:]))
try:
    import numpy  # noqa: F401  (the only package the self-check needs)
except ImportError:
    sys.exit(f"The self-check needs NumPy, which {sys.executable} cannot import.\\n"
             "Install it in this folder with:  python -m pip install -r requirements.txt\\n"
             "自查需要 NumPy，请先运行：python -m pip install -r requirements.txt")

from autograder.selfcheck import main

arguments = sys.argv[1:]
if arguments[:1] == ["check"]:  # python -m autograder check [FOLDER]
    arguments = arguments[1:]
sys.exit(main(arguments))
'''


def write_kit(stage: Path, solution_dir: Path) -> list[str]:
    """Write stage/autograder/ (the kit) and return its file names."""
    kit = stage / "autograder"
    (kit / "child").mkdir(parents=True)
    for name in MODULES:
        shutil.copyfile(PACKAGE / name, kit / name)
    (kit / "__init__.py").write_text(INIT, encoding="utf-8")
    (kit / "__main__.py").write_text(MAIN, encoding="utf-8")
    write_public_cases(load_reference(solution_dir), kit / "public_cases.bin")
    return sorted(str(p.relative_to(stage)) for p in kit.rglob("*") if p.is_file())
