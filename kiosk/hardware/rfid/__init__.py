"""RFID: tag data models (models/) apart from the readers that move the bytes (readers/)."""
