"""Makes `twistd chatroom` exist; chatroom itself is imported only when that command runs."""

from twisted.application.service import ServiceMaker

chatroom = ServiceMaker("chatroom", "chatroom.app.tap", "Group chat for terminals, over TLS.", "chatroom")
