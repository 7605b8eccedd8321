"""The composition root: `twistd chatroom`'s options, config, services, metrics, workers; imports all but the tools."""
