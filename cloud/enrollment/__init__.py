"""Kiosk identities: one-time enrollment tokens, certificates issued from CSRs, renewal,
revocation (the broker's CRL) and decommissioning."""
