"""grade-all: many gradings on a pool or on Dask, the results folder, the gradebook and
the report pages.
"""
