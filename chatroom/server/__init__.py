"""Serving connections whatever they speak: transport, policy, registration, limits, auth, TLS; imports core, stores."""
