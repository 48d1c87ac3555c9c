"""Remote maintenance: commands to kiosks, their state machine, results and timeouts."""
