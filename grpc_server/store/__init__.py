"""Durable state: the engine kept in a file, every answered change written before its answer.

:mod:`grpc_server.store.sqlite` is the one store. The pure core says what an operation changed
(:meth:`fsm.engine.Engine.take_changes`); :class:`grpc_server.world.GuardedEngine` hands that to
the store inside the engine's lock, after each operation and before its answer leaves.
"""
