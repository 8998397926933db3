"""Serves ``recording.services:app`` with hypercorn in this very process (one PID to stop).

Started by the recorder (``recording/launch.py``) with its private venv::

    recording/.work/venv/bin/python -m recording.serve 127.0.0.1 PORT

HTTP/1.1 and cleartext HTTP/2 (prior knowledge, as restate-server speaks it) on one port.
SIGTERM or SIGINT ends it at once: nothing here needs a graceful shutdown (the server keeps
the durable state), and open invocation streams would hold a graceful one up.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config

from recording.services import app


async def main(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    try:
        # The SDK's ASGI app takes over SIGTERM (through this hook list) on its first request, to
        # drain invocation streams; registering first makes SIGTERM still end the process at once.
        from restate.server import install_shutdown_hook

        install_shutdown_hook(loop, lambda: os._exit(0))
    except (ImportError, NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGTERM, lambda: os._exit(0))
    loop.add_signal_handler(signal.SIGINT, lambda: os._exit(0))
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = "WARNING"
    await serve(app, config, shutdown_trigger=asyncio.Event().wait)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
