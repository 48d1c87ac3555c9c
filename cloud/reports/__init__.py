"""Reports for the city: uptime against opening hours (the monthly report builds on it)."""
