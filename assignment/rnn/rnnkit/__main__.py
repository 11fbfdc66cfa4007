import sys

if sys.version_info < (3, 10):
    sys.exit(f"The self-check needs Python 3.10 or newer; this is {sys.version.split()[0]} "
             f"({sys.executable}).\n自查需要 Python 3.10 或更高版本。")
if sys.argv[1:2] == ["pack"]:  # python -m autograder pack [FOLDER]
    from rnnkit.intake.pack import main as pack

    sys.exit(pack(sys.argv[2:]))
try:
    import numpy  # noqa: F401  (the only package the self-check needs)
except ImportError:
    sys.exit(f"The self-check needs NumPy, which {sys.executable} cannot import.\n"
             "Install it in this folder with:  python -m pip install -r requirements.txt\n"
             "自查需要 NumPy，请先运行：python -m pip install -r requirements.txt")

from rnnkit.judging.selfcheck import main

arguments = sys.argv[1:]
if arguments[:1] == ["check"]:  # python -m autograder check [FOLDER]
    arguments = arguments[1:]
sys.exit(main(arguments))
