"""Simulations that speak the real wire protocols (SIP2 over TCP, reader frames on a pty, PC/SC).

Used by the tests and by ``kiosk demo``; production code never imports this package.
"""
