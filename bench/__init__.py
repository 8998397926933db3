"""Benchmarks: how close the model and its gRPC facade are to what Python can do.

``python -m bench`` (``make bench``) measures, side by side in one run, each figure next to a
floor measured in the same run, prints a table and writes ``bench/results.json``:

- :mod:`bench.hotpath`    a transition through the compiled fast path and the engine's step vs a
  plain dict table, and through ``transitions``' own trigger;
- :mod:`bench.memory`     bytes per invocation (tracemalloc), journals excluded and included;
- :mod:`bench.lifecycle`  the simulator figure: invocations through a 5-step lifecycle per second;
- :mod:`bench.grpc_bench` ``RestartAsNew`` over loopback vs the ``Echo`` floor, and server start-up;
- :mod:`bench.restate`    the real restate-server (when ``make conformance-record`` installed it).

Heavy sections run in child processes, so that one does not skew the next (heap, GC, threads).
"""
