"""A gRPC facade over :mod:`fsm`: Restate's admin API for invocations, and a simulation service.

The package, in the order a newcomer should read it:

- ``protos/invocation_lifecycle/v1/*.proto``  the contract (every RPC and field documented);
- :mod:`grpc_server.errors`      the one table from a refusal's cause (its exception class) to a
  gRPC status code, and the ``google.rpc.Status`` / ``ErrorInfo`` every error carries;
- :mod:`grpc_server.convert`     proto messages <-> the model's records;
- :mod:`grpc_server.world`       the engine behind one lock;
- :mod:`grpc_server.rpc`         what wraps every RPC: errors to statuses, one log line per call;
- :mod:`grpc_server.admin`, :mod:`grpc_server.simulation`  the two servicers;
- :mod:`grpc_server.server`      build, start and stop a server (health, reflection, limits);
- :mod:`grpc_server.__main__`    ``python -m grpc_server`` / ``invocation-lifecycle-server``;
- :mod:`grpc_server.cli`         a client that prints JSON;
- :mod:`grpc_server.conformance` the replay of recorded cases over the wire;
- :mod:`grpc_server.codegen`     regenerates ``grpc_server/gen/`` (committed) from the protos;
- :mod:`grpc_server.command`     ``invocation-lifecycle``: every command line under one name.
"""

from __future__ import annotations

import importlib.util

#: The restate-server release the model answers as: its ``/version``, its OpenAPI document, the
#: ``created_using_restate_version`` of its tables, and the CLI the tests drive it with.
RESTATE_VERSION = "1.7.12"

#: Where the clients (the CLI, the replayer) find a running server when given no ``--target``.
TARGET_ENV = "INVOCATION_LIFECYCLE_TARGET"

#: What the ``[server]`` extra brings, by import name.
SERVER_MODULES = ("grpc", "google.protobuf", "google.rpc", "grpc_status", "grpc_health", "grpc_reflection")


def missing_extra() -> str | None:
    """One line naming the extra to install when a module the server needs is absent, else None."""
    for name in SERVER_MODULES:
        try:
            found = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # its parent package is absent
            found = None
        if found is None:
            return (
                f"{name} is not installed: the gRPC server and its command line need the [server] extra "
                "(pip install 'invocation-lifecycle[server]')"
            )
    return None
