"""The web front end: an HTTPS site serving the web client's files, and IRC over WebSocket for it."""
