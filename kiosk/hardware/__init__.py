"""Devices the kiosk drives, each kind behind one interface (DESIGN.md §2.3)."""
