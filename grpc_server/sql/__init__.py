"""SQL introspection: Restate's ``sys_*`` tables built from the engine, queried with DataFusion.

- :mod:`grpc_server.sql.schema`  the tables' columns, as restate-server 1.7.12 has them;
- :mod:`grpc_server.sql.tables`  Arrow tables of the engine's state, one read per query;
- :mod:`grpc_server.sql.query`   running a query and answering in JSON or Arrow.
"""
