"""The grader inside other tools: Gradescope's autograder zip and scripts, nbgrader's
graded cells.
"""
