"""RFID reader drivers behind one interface, :class:`~kiosk.hardware.rfid.readers.base.TagReader`."""
