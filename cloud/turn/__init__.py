"""TURN relay credentials: short-lived, derived from a secret shared with coturn."""
