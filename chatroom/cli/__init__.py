"""The administrator's tools: chatroom-accounts, chatroom-rooms, chatroom-certs; they may import all but app."""
