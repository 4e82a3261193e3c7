"""ESC/POS receipt printers: templates, code pages and status (pure), and the python-escpos driver.

The package root imports nothing on purpose: :mod:`kiosk.config` reads the settings module, and the
driver module imports python-escpos (0.2 s, plus its capability cache); a caller imports what it uses:

* :mod:`.settings`: ``[printer]`` settings;
* :mod:`.layout`: receipt and slip templates, lines in, a printable layout out;
* :mod:`.codepage`: text to bytes under ESC t code pages the printer has;
* :mod:`.status`: DLE EOT real-time status bytes to a :class:`~.status.PrinterStatus`;
* :mod:`.logo`: the configured logo made printable (1-bit, paper width);
* :mod:`.device`: :class:`~.device.EscposReceiptPrinter` over serial, USB, network or a usblp file.
"""
