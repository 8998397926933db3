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
- :mod:`grpc_server.codegen`     regenerates ``grpc_server/gen/`` (committed) from the protos.
"""
