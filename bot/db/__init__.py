"""Database schema and session factory (SQLAlchemy 2, async; SQLite or PostgreSQL)."""
