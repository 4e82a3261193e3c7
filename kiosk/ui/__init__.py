"""The kiosk's face (Kivy): renders the station's state and turns touches into events.

Nothing here decides policy: what is offered, refused or shown comes from the state machines in
``kiosk/circulation``; the UI only chooses how it looks, in the patron's language.
"""
