"""One grading: the checks and their cases, the engine (reference here, student in the
sandbox), the judges, validation, hints, typed results.
"""
