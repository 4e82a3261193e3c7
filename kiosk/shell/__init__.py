"""The parts of the imperative shell around the runner (``kiosk/runner.py``): timers, device inputs
turned into core events, tag security and the output devices behind small interfaces.

Each module does one kind of I/O for the runner and nothing else; the runner decides on which
thread it happens.
"""
