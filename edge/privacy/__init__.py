"""What keeps the resident's secrets on the kiosk: the PIN guard (screen blackout, remote
input blocked while a PIN is typed)."""
