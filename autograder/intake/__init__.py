"""What the grader reads of a submission (a folder or a .zip): the graded files only; the
student's pack, which writes the zip to hand in.
"""
