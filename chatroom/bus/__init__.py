"""Several processes serving one chat: each keeps a replica, changed only by a log they all read in one order.

`shared.Replica` is the replica (a plain core Chat's sequencer), `log.Log` the seam it stands on, with one log
in memory (`log.MemoryLog`, for processes that are objects in one test) and one on Redis (`redis.RedisLog`).
docs/scaling.md says why this keeps every room in one order.
"""
