"""Kiosk peripherals behind one interface; real drivers and simulated stand-ins side by side."""
