"""The kiosk's access to the library system: online over SIP2, offline through the journal."""
