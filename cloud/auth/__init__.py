"""Staff accounts, password hashing, tokens and role checks."""
