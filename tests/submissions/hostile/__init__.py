"""Hostile submissions as data: attacks (code snippets) injected into a submission whose
real work is partly wrong. See attacks.py."""
