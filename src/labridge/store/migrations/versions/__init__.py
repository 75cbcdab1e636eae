"""The store's schema revisions, oldest first: 0001_initial, ...

Add one with ``alembic revision`` (an ini file pointing script_location here) or by hand from
``script.py.mako``; never edit a released revision.
"""
