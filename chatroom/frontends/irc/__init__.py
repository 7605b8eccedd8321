"""IRC as a front end of chatroom: irssi, WeeChat, HexChat and phone apps in the same rooms (docs/irc.md)."""
