"""Database engine, declarative base and migrations."""
