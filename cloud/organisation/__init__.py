"""The service's organisation (staffing chart) and emergency contact chain."""
