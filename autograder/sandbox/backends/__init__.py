"""Isolation backends, strongest first: one class per way of fencing the student in.

    backend = backends.named(settings["mode"])

isolation.py picks one, once, from the settings (config.isolation "auto": the first of
BACKENDS that works here); sandbox.py and the warnings ask it, and nothing compares mode
names. The protocol is base.Backend. Adding a backend: a module here with its class,
and its line in BACKENDS (and, when it needs steps inside the student process, its line
in child/jail.py's ENTER). Imported by sandbox.py only when the settings name a mode:
the student's self-check kit ships without this package.
"""
from autograder.sandbox.backends.base import Backend, Context
from autograder.sandbox.backends.bubblewrap import Bubblewrap
from autograder.sandbox.backends.jail import Jail
from autograder.sandbox.backends.none import NoIsolation
from autograder.sandbox.backends.user import UserSwitch

BACKENDS: tuple[Backend, ...] = (Bubblewrap(), Jail(), UserSwitch(), NoIsolation())
MODES = tuple(backend.name for backend in BACKENDS)


def named(name: str | None) -> Backend:
    """The backend of that name ("none" for None or an unknown name)."""
    return next((b for b in BACKENDS if b.name == name), BACKENDS[-1])


__all__ = ["BACKENDS", "MODES", "Backend", "Context", "named"]
