"""The shift roster of operators and support staff, and the coverage it gives the windows."""
