"""The student process: started with limits, fenced in by one isolation backend, asked and
killed. child/ is the only grader code that runs inside it.
"""
