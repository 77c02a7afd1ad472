"""Loaded at start by every Python subprocess of a PostgreSQL test run (conftest puts this folder first
on PYTHONPATH): the same data directory opens the same test database as in the test process."""

import ncii_test_pg

ncii_test_pg.install_from_environment()
