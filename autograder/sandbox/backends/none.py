"""No isolation: the student process runs as the grader's user. `grade` refuses it
unless --no-isolation (the student's own self-check needs none)."""
from autograder.sandbox.backends.base import Backend, Context


class NoIsolation(Backend):
    name, filtered = "none", False

    def refusal(self, config, ctx: Context, why_not: list[str]) -> str | None:
        reasons = "; ".join(why_not) or "no isolation is available"
        return ("Refusing to grade: the student's code would run as your own user, able to "
                "read the hidden solutions and the grading secret.\n"
                f"Why: {reasons}.\n"
                "Instead: run the grader as root (sudo), in a container (e.g. docker run "
                "--privileged, or any container where you are root), or on Gradescope "
                "(make autograder-zip); or pass --no-isolation if you trust this code.")
