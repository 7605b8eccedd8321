"""chatroom's own line protocol (docs/protocol.md): the dialect, its commands, and the wire format."""
