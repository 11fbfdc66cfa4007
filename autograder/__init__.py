"""The instructor's tool: release the assignment, grade submissions, report.

Data flows one way:
    release:  solutions/ + source_notebooks/ -> assignment/ (then a leak scan)
    grade:    submission -> sandboxed student process -> checks -> results -> views
"""
