"""Restate's HTTP admin API over the model, and ``/model/`` to drive it, in the server's asyncio loop.

- :mod:`grpc_server.http.responses`   the bytes Restate answers with; strict path-segment decoding;
- :mod:`grpc_server.http.extractor`   a JSON body read as Restate's JSON extractor reads it;
- :mod:`grpc_server.http.restate_api` Restate's own paths (invocations, health, version, openapi,
  services, deployments), byte for byte with restate-server 1.7.12;
- :mod:`grpc_server.http.batch`       Restate's batch endpoints;
- :mod:`grpc_server.http.query_api`   ``POST /query`` (the SQL itself: :mod:`grpc_server.sql`);
- :mod:`grpc_server.http.model_api`   ``/model/``: the world in and out, the clock, the steps;
- :mod:`grpc_server.http.extensions`  ``/model/`` beyond Restate: dry run, Idempotency-Key, filters;
- :mod:`grpc_server.http.openapi`     the OpenAPI document of all of it;
- :mod:`grpc_server.http.app`         the app: version prefixes, raw-path routing, 404/405, token;
- :mod:`grpc_server.http.serving`     uvicorn in the server's event loop;
- :mod:`grpc_server.http.conformance` replaying recorded cases over HTTP, bytes checked.
"""

from .app import build_app

__all__ = ["build_app"]
