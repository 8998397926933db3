"""Our own Restate SDK services, served to the real restate-server by ``recording/record.py``.

This module imports the Python ``restate`` SDK, which lives only in the recorder's private venv
(``recording/.work/venv``), never in the project's main venv. It is started as::

    recording/.work/venv/bin/python -m recording.serve 127.0.0.1 PORT

(``recording/launch.py`` does this). One process serves several *deployments* under different path
prefixes, because Restate identifies a deployment by its URI:

=========  =====================================================  ===========================
prefix     services                                               discovery
=========  =====================================================  ===========================
/d1        every main service                                     as the SDK says (5..7)
/d4        every main service                                     rewritten to min=max=5
/d2        every main service                                     as the SDK says (5..7)
/d3        Other                                                  as the SDK says
/d5        Lonely (the deployment the recorder deletes later)     as the SDK says
=========  =====================================================  ===========================

``GET /_health`` answers 200 once the process serves.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import restate
from restate import (
    Context,
    InvocationRetryPolicy,
    ObjectContext,
    ObjectSharedContext,
    Service,
    TerminalError,
    VirtualObject,
    Workflow,
    WorkflowContext,
    WorkflowSharedContext,
)

# ASGI's shapes (the messages are dicts by the spec).
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LONG = timedelta(hours=2)
# In bidi mode the SDK keeps an attempt open while it awaits an awakeable, a call or a promise; the
# server asks it to suspend once this inactivity timeout passes. Short, so "suspended" comes fast.
SUSPEND_SOON = {"inactivity_timeout": timedelta(milliseconds=300)}


async def _nothing() -> str:
    return "ok"


def _step(label: str) -> Callable[[], Awaitable[str]]:
    async def action() -> str:
        return label

    return action


# ---------------------------------------------------------------- plain services
steps = Service("Steps")


@steps.handler()
async def run(ctx: Context, arg: str) -> str:
    """Three ``ctx.run`` steps: journal [Input, Run, Run-done, Run, Run-done, Run, Run-done, Output]."""
    a = await ctx.run("step1", _step("one"))
    b = await ctx.run("step2", _step("two"))
    c = await ctx.run("step3", _step("three"))
    return f"{arg}:{a}{b}{c}"


steps_noret = Service("StepsNoRet", journal_retention=timedelta(seconds=0))


@steps_noret.handler("run")
async def noret_run(ctx: Context, arg: str) -> str:
    a = await ctx.run("step1", _step("one"))
    b = await ctx.run("step2", _step("two"))
    return f"{arg}:{a}{b}"


helper = Service("Helper", **SUSPEND_SOON)


@helper.handler()
async def echo(ctx: Context, arg: str) -> str:
    return arg


@helper.handler()
async def park(ctx: Context, arg: str) -> str:
    """Sleeps long: a callee that never answers during a recording."""
    await ctx.sleep(LONG)
    return arg


mixed = Service("Mixed", **SUSPEND_SOON)


@mixed.handler()
async def mix(ctx: Context, arg: str) -> str:
    """Run, Call, OneWayCall, Sleep, an awakeable resolved by itself, Run: a varied journal."""
    a = await ctx.run("first", _step("a"))
    b = await ctx.service_call(echo, arg="called")
    ctx.service_send(echo, arg="sent")
    await ctx.sleep(timedelta(milliseconds=1))
    name, fut = ctx.awakeable()
    ctx.resolve_awakeable(name, "woken")
    c = await fut
    d = await ctx.run("last", _step("d"))
    return f"{a}{b}{c}{d}"


@mixed.handler()
async def call_park(ctx: Context, arg: str) -> str:
    """Suspends while awaiting a call that does not answer (Helper.park sleeps)."""
    await ctx.run("before", _step("x"))
    answer: str = await ctx.service_call(park, arg=arg)
    return answer


waiter = Service("Waiter", **SUSPEND_SOON)


@waiter.handler()
async def sleep_long(ctx: Context, arg: str) -> str:
    """One step, then a long sleep: suspended."""
    await ctx.run("before", _step("x"))
    await ctx.sleep(LONG)
    return "slept"


@waiter.handler()
async def wait_awakeable(ctx: Context, arg: str) -> str:
    """One step, then an awakeable nobody resolves: suspended."""
    await ctx.run("before", _step("x"))
    _name, fut = ctx.awakeable()
    value: str = await fut
    return value


slow = Service("Slow", inactivity_timeout=timedelta(minutes=20), abort_timeout=timedelta(minutes=20))


@slow.handler("run")
async def slow_run(ctx: Context, arg: str) -> str:
    """Stays inside a ``ctx.run`` for minutes: running."""

    async def long_action() -> str:
        await asyncio.sleep(600)
        return "done"

    await ctx.run("before", _step("x"))
    done: str = await ctx.run("slow", long_action)
    return done


failer = Service("Failer")


@failer.handler(
    invocation_retry_policy=InvocationRetryPolicy(
        initial_interval=timedelta(milliseconds=50),
        exponentiation_factor=1.0,
        max_interval=timedelta(milliseconds=50),
        max_attempts=3,
        on_max_attempts="pause",
    )
)
async def fail(ctx: Context, arg: str) -> str:
    """One step, then a retryable error on every attempt: paused after 3 attempts."""
    await ctx.run("ok-step", _step("ok"))
    raise RuntimeError("transient failure, forever")


@failer.handler()
async def terminal(ctx: Context, arg: str) -> str:
    """One step, then a terminal error: completed with failure."""
    await ctx.run("ok-step", _step("ok"))
    raise TerminalError("terminal failure", status_code=500)


retrier = Service("Retrier")


@retrier.handler(
    invocation_retry_policy=InvocationRetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        exponentiation_factor=1.0,
        max_interval=timedelta(milliseconds=200),
        max_attempts=100000,
        on_max_attempts="kill",
    )
)
async def retry(ctx: Context, arg: str) -> str:
    """Fails forever with a retryable error: backing-off (running with retries)."""
    await ctx.run("ok-step", _step("ok"))
    raise RuntimeError("transient failure, retrying")


# ---------------------------------------------------------------- virtual object
locker = VirtualObject("Locker", **SUSPEND_SOON)


@locker.handler()
async def hold(ctx: ObjectContext, arg: str) -> str:
    """Exclusive: holds its key while awaiting an awakeable nobody resolves (a 2nd call is inboxed)."""
    ctx.set("holder", arg)
    name, fut = ctx.awakeable()
    await ctx.run("publish", _step(name))
    value: str = await fut
    return value


@locker.handler()
async def nap(ctx: ObjectContext, arg: str) -> str:
    """Exclusive: holds its key while sleeping for hours (a 2nd call is inboxed); suspends on the sleep."""
    ctx.set("holder", arg)
    await ctx.run("publish", _step("napping"))
    await ctx.sleep(LONG)
    return "rested"


@locker.handler()
async def quick(ctx: ObjectContext, arg: str) -> str:
    """Exclusive and short: completes at once."""
    ctx.set("last", arg)
    result: str = await ctx.run("step1", _step("q"))
    return result


@locker.handler(kind="shared")
async def peek(ctx: ObjectSharedContext, arg: str) -> str:
    """Shared: runs beside an exclusive holder."""
    result: str = await ctx.run("step1", _step("p"))
    return result


# ---------------------------------------------------------------- workflows
wf = Workflow("WF")


@wf.main("run")
async def wf_run(ctx: WorkflowContext, arg: str) -> str:
    result: str = await ctx.run("step1", _step("w"))
    return result


@wf.handler()
async def status(ctx: WorkflowSharedContext, arg: str) -> str:
    result: str = await ctx.run("step1", _step("s"))
    return result


wf_wait = Workflow("WFWait", **SUSPEND_SOON)


@wf_wait.main("run")
async def wfwait_run(ctx: WorkflowContext, arg: str) -> str:
    await ctx.run("step1", _step("w"))
    value: str = await ctx.promise("never").value()
    return value


# ---------------------------------------------------------------- the other deployments
other = Service("Other")


@other.handler("echo")
async def other_echo(ctx: Context, arg: str) -> str:
    result: str = await ctx.run("step1", _step(arg))
    return result


lonely = Service("Lonely")


@lonely.handler("run")
async def lonely_run(ctx: Context, arg: str) -> str:
    a: str = await ctx.run("step1", _step("l1"))
    b: str = await ctx.run("step2", _step("l2"))
    return a + b


MAIN = [steps, steps_noret, helper, mixed, waiter, slow, locker, failer, retrier, wf, wf_wait]


# ---------------------------------------------------------------- ASGI plumbing
def _cap_protocol(inner: ASGIApp, max_version: int) -> ASGIApp:
    """Wraps an SDK app so that its discovery response advertises max protocol ``max_version``."""

    async def capped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/discover"):
            await inner(scope, receive, send)
            return
        start: Message = {}
        body = bytearray()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    out = bytes(body)
                    if start.get("status") == 200:
                        doc = json.loads(out)
                        doc["minProtocolVersion"] = min(doc.get("minProtocolVersion", max_version), max_version)
                        doc["maxProtocolVersion"] = max_version
                        out = json.dumps(doc).encode()
                    headers = [(k, v) for (k, v) in start.get("headers", []) if k.lower() != b"content-length"]
                    headers.append((b"content-length", str(len(out)).encode()))
                    await send({"type": "http.response.start", "status": start.get("status", 200), "headers": headers})
                    await send({"type": "http.response.body", "body": out, "more_body": False})

        await inner(scope, receive, capture)

    return capped


_APPS: dict[str, ASGIApp] = {
    "/d1": restate.app(services=MAIN),
    "/d2": restate.app(services=MAIN),
    "/d4": _cap_protocol(restate.app(services=MAIN), 5),
    "/d3": restate.app(services=[other]),
    "/d5": restate.app(services=[lonely]),
}


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Dispatches on the first path segment to one deployment's SDK app."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path: str = scope["path"]
    if path == "/_health":
        await _plain(send, 200, "ok")
        return
    prefix = "/" + path.split("/", 2)[1] if path.count("/") >= 2 else path
    inner = _APPS.get(prefix)
    if inner is None:
        await _plain(send, 404, f"no deployment at {path}")
        return
    await inner(scope, receive, send)
