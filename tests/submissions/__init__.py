"""A catalog of submissions for testing the grader: realistic bugs and correct variants."""
