"""`python -m autograder dask-scheduler [--host H] [--port 8786]`: a grading cluster's
Dask scheduler (autograder/classroom/dask_start.py says what it sets up)."""
from autograder.classroom import dask_start


def add_arguments(parser) -> None:
    dask_start.add_scheduler_arguments(parser)


def run(args, config) -> int:
    return dask_start.run(lambda: dask_start.scheduler_command(args), "dask-scheduler")
