"""Health and quality readings the kiosk sends to the cloud."""
