"""The hidden reference solution, loaded into the grader's process only.

Loaded by file path (never from sys.path), so that a student module in the current
folder can never stand in for it.
"""
import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

from autograder.sandbox.child import functions


def load_reference(folder: Path) -> SimpleNamespace:
    """rnn_layers and rnn_classifier of the reference, and the extensions' modules
    (lstm_layers) where the folder has them, as attributes of a namespace."""
    modules = {}
    for name in functions.ALL_MODULES:  # in import order: rnn_classifier imports rnn_layers
        path = Path(folder) / f"{name}.py"
        if name not in functions.MODULES and not path.exists():
            continue
        loaded = sys.modules.get(name)
        if loaded is not None and Path(getattr(loaded, "__file__", "")).resolve() == path.resolve():
            modules[name] = loaded
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        modules[name] = module
    return SimpleNamespace(**modules)
