"""Records conformance cases from a real ``restate-server`` (``python -m recording.record``).

The modules, each importing only those below it::

    record      the command line: flags, the lock, installs, the private network, the run
    session     the recording session in its fixed order: deployments, targets, probes, output
    sql_values  one invocation per state, and what every SQL query shows of it (JSON and Arrow)
    driver      drives invocations into each lifecycle state and waits for them there
    http_probes raw answers of an empty server's admin API: errors, wrong methods, /query bodies
    sql_schema  the introspection tables' columns, types and nullability
    probes      one admin call on one target -> one case (and its raw answer)
    matrix      what gets probed: query strings, unknown and malformed ids, the operation plan
    launch      starts restate-server and the SDK services, waits until they answer
    world       the server's deployments, services, invocations and journals in the case format
    cases       the case format: its shapes, request fields, consistency checks, output files
    client      HTTP to the server: admin API, SQL /query, ingress
    processes   child processes stopped by PID, free ports, the loopback-only network
    install     restate-server from npm and the SDK from PyPI into recording/.work/
    common      paths, RecordingError, the log line

Run in the SDK's own venv (``recording/.work/venv``), never imported by the modules above::

    serve       hypercorn serving ``services`` in one process
    services    the Restate SDK services the recording drives

Everything but ``serve`` and ``services`` uses the standard library only.
"""
