"""The terminal client: `python -m chatroom.client`."""
