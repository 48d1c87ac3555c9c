"""Consent documents, retention and purge, and the data inventory."""
