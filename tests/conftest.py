"""Set-up for the whole suite: the Hypothesis profile (see :mod:`tests.budget`), and gRPC without fork handlers.

The suite keeps gRPC servers and channels alive in this process while the recorder's tests start
children with a ``preexec_fn``; gRPC's fork handlers then abort some of those children
(SIGABRT). Nothing here forks to use gRPC in a child, so the handlers are turned off before gRPC
is first imported.
"""

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

from hypothesis import settings  # noqa: E402  (after the environment above)

from tests.budget import profile  # noqa: E402

settings.load_profile(profile())
