"""chatroom: a self-hostable group chat for terminals, over TLS, built on Twisted."""
