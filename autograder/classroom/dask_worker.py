"""`python -m autograder dask-worker tcp://HOST:PORT [--nworkers N]`: a grading
cluster's workers, one single-threaded process per CPU by default
(autograder/classroom/dask_start.py says what it sets up)."""
from autograder.classroom import dask_start


def add_arguments(parser) -> None:
    dask_start.add_worker_arguments(parser)


def run(args, config) -> int:
    return dask_start.run(lambda: dask_start.worker_command(args), "dask-worker")
