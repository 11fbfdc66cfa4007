"""`python -m autograder check` and `python -m autograder pack` in this folder run the kit, rnnkit/."""
import runpy

runpy.run_module("rnnkit", run_name="__main__", alter_sys=True)
