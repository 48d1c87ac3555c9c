"""The resident's call at the kiosk: the screen flow and the call's life."""
