"""The library self-service kiosk: circulation core, devices, ILS access, offline journal and UI."""

__version__ = "0.1.0"
