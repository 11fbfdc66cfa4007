import sys

from autograder.selfcheck import main

arguments = sys.argv[1:]
if arguments[:1] == ["check"]:  # python -m autograder check [FOLDER]
    arguments = arguments[1:]
sys.exit(main(arguments))
