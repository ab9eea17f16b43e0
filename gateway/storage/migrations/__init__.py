"""Alembic migrations of the historian schema, run programmatically by gateway.storage.migrate.

New revision: `alembic -x ... revision` is not wired up; copy the newest file
in versions/, give it a new `revision` and set `down_revision` to the old one.
"""
