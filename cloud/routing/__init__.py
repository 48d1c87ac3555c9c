"""Routing the residents' calls: the queue, operator presence, assignment, signaling relay."""
