"""Serving connections whatever they speak: transports, connection policy, registration, limits, auth, TLS.

It imports core and stores only: the front ends stand on it, never the other way round.
"""
