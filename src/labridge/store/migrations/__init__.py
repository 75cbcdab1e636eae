"""Alembic migrations of the store, shipped in the package (run by labridge.store.migrate).

This file makes the directory a package so tools name its modules without clashes; Alembic
loads env.py and the revisions itself, and importing env.py directly does not work.
"""
