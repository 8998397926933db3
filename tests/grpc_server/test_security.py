"""TLS off loopback, an explicit --insecure, and the bearer token on every call but health."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from grpc_server import cli
from grpc_server import security as security_module
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2 as adm
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2_grpc
from grpc_server.security import Security, check_listen, is_loopback
from grpc_server.server import Server, start

from .conftest import ROOT, expect_error

WAIT_S = 30
TOKEN = "s3cret-token"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("example.com", False),
    ],
)
def test_which_addresses_are_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_plaintext_off_loopback_needs_an_explicit_choice() -> None:
    with pytest.raises(OSError) as caught:
        check_listen("0.0.0.0", Security())
    assert str(caught.value) == (
        "refusing to listen on 0.0.0.0 in plaintext: pass --tls-cert and --tls-key, or --insecure to accept "
        "that anyone who can reach the port may drive the engine"
    )
    assert check_listen("0.0.0.0", Security(insecure=True)) == (
        "listening on 0.0.0.0 in plaintext (--insecure): anyone who can reach it can drive the engine"
    )
    assert check_listen("0.0.0.0", Security(tls_cert=b"cert", tls_key=b"key")) is None
    assert check_listen("127.0.0.1", Security()) is None
    assert check_listen("127.0.0.1", Security(insecure=True)) is None


def test_the_server_logs_the_insecure_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Stand-in for an address off loopback: the tests bind to 127.0.0.1 only, so this one is
    # treated as public, which is what the server sees on any other interface.
    monkeypatch.setattr(security_module, "is_loopback", lambda host: False)
    with pytest.raises(OSError, match="^refusing to listen on 127.0.0.1 in plaintext"):
        start(port=0, host="127.0.0.1")
    with caplog.at_level(logging.WARNING, logger="grpc_server.server"):
        server = start(port=0, host="127.0.0.1", security=Security(insecure=True))
    server.stop(0)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "listening on 127.0.0.1 in plaintext (--insecure): anyone who can reach it can drive the engine"
    ]


def test_half_a_tls_pair_or_an_empty_token_is_refused() -> None:
    with pytest.raises(ValueError, match="^TLS needs both a certificate and its key$"):
        Security(tls_cert=b"cert")
    with pytest.raises(ValueError, match="^the token must not be empty$"):
        Security(token="")


@pytest.fixture
def with_token() -> Iterator[Server]:
    server = start(port=0, host="127.0.0.1", security=Security(token=TOKEN))
    yield server
    server.stop(0)


def test_every_call_but_health_needs_the_token(with_token: Server) -> None:
    with grpc.insecure_channel(with_token.target) as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        request = adm.ListServicesRequest()
        for metadata, message in [
            (None, "missing bearer token: send the metadata 'authorization: Bearer <token>'"),
            ((("authorization", "Bearer nope"),), "wrong bearer token"),
            ((("authorization", TOKEN),), "wrong bearer token"),  # the scheme is part of it
        ]:
            expect_error(
                lambda metadata=metadata: admin.ListServices(request, metadata=metadata, timeout=WAIT_S),  # type: ignore[misc]
                grpc.StatusCode.UNAUTHENTICATED,
                "UNAUTHENTICATED",
                401,
                message,
            )
        admin.ListServices(request, metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=WAIT_S)
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=WAIT_S)
        assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_the_cli_sends_the_token_from_its_flag_or_the_environment(
    with_token: Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.main(["--target", with_token.target, "list-services"]) == 1
    assert '"reason": "UNAUTHENTICATED"' in capsys.readouterr().err
    assert cli.main(["--target", with_token.target, "--token", TOKEN, "list-services"]) == 0
    monkeypatch.setenv("INVOCATION_LIFECYCLE_TOKEN", TOKEN)
    assert cli.main(["--target", with_token.target, "list-services"]) == 0


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_tls_serves_clients_that_trust_the_certificate_and_only_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert, key = self_signed(tmp_path)
    server = start(port=0, host="127.0.0.1", security=Security(tls_cert=cert.read_bytes(), tls_key=key.read_bytes()))
    try:
        trusted = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(server.target, trusted) as channel:
            admin_pb2_grpc.AdminServiceStub(channel).ListServices(adm.ListServicesRequest(), timeout=WAIT_S)
        with grpc.insecure_channel(server.target) as plain:
            with pytest.raises(grpc.RpcError) as caught:
                admin_pb2_grpc.AdminServiceStub(plain).ListServices(adm.ListServicesRequest(), timeout=WAIT_S)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert cli.main(["--target", server.target, "--ca", str(cert), "list-services"]) == 0
        capsys.readouterr()
    finally:
        server.stop(0)


@pytest.mark.parametrize(
    ("args", "exit_code", "stderr"),
    [
        (
            ["--host", "0.0.0.0"],
            1,
            "refusing to listen on 0.0.0.0 in plaintext: pass --tls-cert and --tls-key, or --insecure to accept "
            "that anyone who can reach the port may drive the engine\n",
        ),
        (
            ["--tls-cert", "cert.pem"],
            2,
            "python -m grpc_server: --tls-cert and --tls-key go together (see python -m grpc_server --help)\n",
        ),
        (["--tls-cert", "none.pem", "--tls-key", "none.pem"], 2, "cannot read the TLS files: "),
    ],
)
def test_the_server_command_refuses_unsafe_or_broken_set_ups(args: list[str], exit_code: int, stderr: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "grpc_server", "--port", "0", "--http-port", "0", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert done.returncode == exit_code
    assert done.stderr.endswith(stderr) if stderr.endswith("\n") else stderr in done.stderr
    assert "Traceback" not in done.stderr


def test_the_http_admin_api_needs_the_token_too_but_not_for_health() -> None:
    server = start(port=0, host="127.0.0.1", security=Security(token=TOKEN), http_port=0)
    try:
        assert server.http is not None

        def ask(path: str, headers: dict[str, str]) -> tuple[int, bytes]:
            conn = http.client.HTTPConnection("127.0.0.1", server.http.port, timeout=WAIT_S)  # type: ignore[union-attr]
            conn.request("PATCH" if "invocations" in path else "GET", path, headers=headers)
            answer = conn.getresponse()
            result = (answer.status, answer.read())
            conn.close()
            return result

        assert ask("/invocations/inv_bogus/cancel", {}) == (
            401,
            b'{"message":"Missing or wrong bearer token: send \'authorization: Bearer <token>\'.","restate_code":null}',
        )
        assert ask("/v2/version", {"authorization": "Bearer wrong"})[0] == 401
        assert ask("/invocations/inv_bogus/cancel", {"authorization": f"Bearer {TOKEN}"})[0] == 400
        assert ask("/health", {}) == (200, b"")
    finally:
        server.stop(0)
