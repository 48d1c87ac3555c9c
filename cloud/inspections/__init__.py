"""Weekly equipment inspections and incidents/complaints (with prevention plans)."""
