"""Code that also runs inside the student process (and nothing else runs there).

Its modules import each other by flat name, because the student process has only this
folder on its path. The grader imports them the same way, so both sides share one copy:
    from autograder.child import wire, functions, layer_ops, classifier_ops, served, jail
"""
import sys
from pathlib import Path

CHILD_DIR = str(Path(__file__).resolve().parent)
if CHILD_DIR not in sys.path:
    sys.path.append(CHILD_DIR)

import classifier_ops  # noqa: E402
import functions  # noqa: E402
import jail  # noqa: E402
import layer_ops  # noqa: E402
import served  # noqa: E402
import wire  # noqa: E402

__all__ = ["classifier_ops", "functions", "jail", "layer_ops", "served", "wire"]
