"""The kiosk's screens: each a Kivy ``Screen`` with ``render(state, ui)``, one module per screen.

Patron screens are built on :class:`kiosk.ui.screens.base.KioskScreen`; which one shows is decided
by :mod:`kiosk.ui.navigation`, never by a screen.
"""
