"""Code that also runs inside the student process (and nothing else runs there).

Its modules import each other by flat name, because the student process has only this
folder on its path. The grader imports them the same way, so both sides share one copy:
    from autograder.sandbox.child import wire, functions, layer_ops, classifier_ops, served, jail
"""
import sys
from pathlib import Path

CHILD_DIR = str(Path(__file__).resolve().parent)
if CHILD_DIR not in sys.path:
    sys.path.append(CHILD_DIR)

__all__ = ["classifier_ops", "functions", "jail", "layer_ops", "served", "wire"]


def __getattr__(name: str):
    """Each module imported when first asked for (by its flat name: one shared copy), so
    that a module of the standard library only (functions, wire) does not pull NumPy in:
    the kit's `pack` runs where NumPy is not installed."""
    if name in __all__:
        import importlib

        module = importlib.import_module(name)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
