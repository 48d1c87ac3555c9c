"""The kiosk agent. Imports `protocol` and nothing of `cloud`."""
