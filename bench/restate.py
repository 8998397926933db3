"""The real restate-server 1.7.12, measured the way :mod:`bench.grpc_bench` measures ours.

Only when ``make conformance-record`` has installed it under ``recording/.work/`` (nothing is
installed here). It is started as the recorder starts it (:mod:`recording.launch`: its config, every
listener on 127.0.0.1; :mod:`recording.processes`: PR_SET_PDEATHSIG, stopped by PID), with a fresh temporary data
directory, inside a private network namespace with only loopback when ``unshare`` allows (the
server asks GitHub for its latest release at every start; there the request cannot leave).

- start-to-ready: process spawn -> first 200 from the admin API's ``/health``, several runs;
- restart-as-new: the SDK services of ``recording/`` (its own venv) serve ``Steps``; one
  ``Steps/run`` invocation is driven to completion, then ``PATCH /invocations/{id}/restart-as-new``
  is timed, one client on a kept-alive HTTP/1.1 connection (as our gRPC client keeps its channel);
  the 404 path (a well-formed id that does not exist) is timed the same way.

The parent (:func:`measure`) runs the stage (``python -m bench.restate --stage``) as a child.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from recording.client import Restate, call
from recording.common import RecordingError
from recording.install import sdk_python as sdk_python_path
from recording.install import server_binary
from recording.launch import free_ports, prepare_server, server_args, server_env, services_args, services_env
from recording.processes import Processes, loopback_up

from .common import JSON, ROOT, concurrent_patch, emit, latency, median, run_child, timed_patch

#: A well-formed invocation id that exists nowhere (the 404 path).
ABSENT_ID = "inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8ed"


def installed() -> tuple[Path, Path] | str:
    """The server binary and the SDK's python, or why they are not there."""
    try:
        binary = server_binary()
    except RecordingError as exc:
        return str(exc)
    sdk_python = sdk_python_path()
    if not binary.exists():
        return f"restate-server is not installed ({binary} is missing): run `make conformance-record` first"
    return binary, sdk_python


def _netns_prefix() -> list[str] | None:
    unshare = shutil.which("unshare")
    if not unshare or not sys.platform.startswith("linux"):
        return None
    probe = subprocess.run([unshare, "--net", "true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return [unshare, "--net", "--"] if probe.returncode == 0 else None


def measure(runs: int, restarts: int, timeout_s: float = 180.0) -> JSON:
    """Run the stage in a private network namespace when possible; skip with a note when not installed."""
    found = installed()
    if isinstance(found, str):
        return {"skipped": found}
    prefix = _netns_prefix()
    args = ["--stage", "--runs", str(runs), "--restarts", str(restarts)]
    result = run_child("bench.restate", [*args, *(["--in-netns"] if prefix else [])], timeout_s, prefix or ())
    result["network"] = (
        "private network namespace, loopback only"
        if prefix
        else "this network namespace (unshare not available), 127.0.0.1 only"
    )
    return result


# ------------------------------------------------------------------------------ the stage (child)


def _wait_200(port: int, path: str, deadline: float, proc: subprocess.Popen[bytes], what: str) -> None:
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if call("GET", port, path, timeout=1.0)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: no 200 from {path} in time")
        time.sleep(0.005)


def _start_server(
    binary: Path, workdir: Path, procs: Processes
) -> tuple[subprocess.Popen[bytes], dict[str, int], float]:
    ports = free_ports("admin", "ingress", "fabric")
    config, data = prepare_server(workdir, ports)
    args = server_args(binary, config, data, "bench")
    env = server_env()
    started = time.perf_counter()
    server = procs.start("restate-server", args, workdir / "server.log", env=env)
    _wait_200(ports["admin"], "/health", time.monotonic() + 60, server, "restate-server")
    return server, ports, time.perf_counter() - started


def _restart_as_new(sdk_python: Path, workdir: Path, ports: dict[str, int], procs: Processes, restarts: int) -> JSON:
    services_port = free_ports("services")["services"]
    services = procs.start(
        "sdk-services",
        services_args(sdk_python, services_port),
        workdir / "services.log",
        env=services_env(),
        cwd=ROOT,
    )
    _wait_200(services_port, "/_health", time.monotonic() + 60, services, "SDK services")
    rs = Restate(ports["admin"], ports["ingress"])
    rs.admin_json("POST", "/deployments", {"uri": f"http://127.0.0.1:{services_port}/d1"})
    inv_id = rs.send("Steps", "run")
    deadline = time.monotonic() + 60
    while [r.get("status") for r in rs.query(f"SELECT status FROM sys_invocation WHERE id = '{inv_id}'")] != [
        "completed"
    ]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{inv_id} did not complete")
        time.sleep(0.05)
    path = f"/invocations/{inv_id}/restart-as-new"
    timed_patch(ports["admin"], path, 10, 200)  # warm-up
    ok = latency(*timed_patch(ports["admin"], path, restarts, 200))
    timed_patch(ports["admin"], f"/invocations/{ABSENT_ID}/restart-as-new", 10, 404)
    absent = latency(*timed_patch(ports["admin"], f"/invocations/{ABSENT_ID}/restart-as-new", restarts, 404))
    eight = concurrent_patch(ports["admin"], path, 8, max(restarts // 8, 10), 200)
    return {
        "completed_invocation": "Steps/run (three ctx.run), deployment /d1 of recording/services.py",
        "restart_200": ok,
        "restart_404": absent,
        "restart_200_8_clients": eight,
    }


def stage(runs: int, restarts: int, in_netns: bool) -> JSON:
    """Inside the namespace: start-to-ready ``runs`` times, then restart-as-new on the last server."""
    found = installed()
    if isinstance(found, str):
        return {"skipped": found}
    binary, sdk_python = found
    if in_netns:
        loopback_up()
    version = subprocess.run([str(binary), "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    ready: list[float] = []
    result: JSON = {"version": version}
    for run in range(runs):
        procs = Processes()
        with tempfile.TemporaryDirectory(prefix="bench-restate-") as tmp:
            try:
                server, ports, ready_s = _start_server(binary, Path(tmp), procs)
                ready.append(ready_s)
                if run == runs - 1:
                    if sdk_python.exists():
                        result.update(_restart_as_new(sdk_python, Path(tmp), ports, procs, restarts))
                    else:
                        result["restart_skipped"] = f"the SDK venv is missing ({sdk_python})"
            finally:
                procs.stop_all()
    result["server_ready"] = {
        "runs": runs,
        "ready_s_median": round(median(ready), 3),
        "ready_s": [round(x, 3) for x in ready],
        "what": "process spawn -> first 200 from the admin API's /health (fresh data directory)",
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.restate", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--restarts", type=int, default=200)
    parser.add_argument("--stage", action="store_true", help="run the measurements here (the parent's child)")
    parser.add_argument("--in-netns", action="store_true", help="bring up loopback first (a fresh namespace)")
    args = parser.parse_args(argv)
    if args.stage:
        try:
            emit(stage(args.runs, args.restarts, args.in_netns))
        except Exception as exc:  # report, never hang the parent: every process is already stopped
            emit({"error": f"{type(exc).__name__}: {exc}"})
        return 0
    print(json.dumps(measure(args.runs, args.restarts), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
