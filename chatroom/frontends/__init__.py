"""The languages clients speak (line, irc): dialects on chatroom.server's connections; import core, stores, server."""
