"""The chat itself: rooms, members, nicknames and who hears what, with no knowledge of bytes or sockets.

`chat.Chat` is the entry point; `events` is what members are told; `names` says which nicknames and room
names are valid. A front end (the line protocol, IRC) adapts each connection to an `events.Session`.
"""
