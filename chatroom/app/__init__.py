"""The composition root: `twistd chatroom`'s options, config, services, metrics and workers; may import any package."""
