"""Persistence: the engine, ORM tables, repositories and Alembic migrations.

Nothing outside `store/` touches the ORM; services call the repository functions.
"""
