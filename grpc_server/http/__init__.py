"""Restate's HTTP admin API over the model, and ``/model/`` to drive it, in the server's asyncio loop.

- :mod:`grpc_server.http.responses`   the bytes Restate answers with; strict path-segment decoding;
- :mod:`grpc_server.http.restate_api` Restate's own paths (invocations, health, version, services,
  deployments), byte for byte with restate-server 1.7.12;
- :mod:`grpc_server.http.model_api`   ``/model/``: the world in and out, the clock, the steps;
- :mod:`grpc_server.http.app`         the app: version prefixes, raw-path routing, 404/405, token.
"""

from .app import build_app

__all__ = ["build_app"]
