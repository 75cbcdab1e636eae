"""The fleet: many LA centres run by workers on a shared PostgreSQL (issue 13)."""
