"""Support staff attendance: the days worked, the basis of the support-staff fee."""
