"""The protobuf contract for every language: file options, the shipped descriptor set, buf's lint
and its breaking check against the committed baseline (which a planted break fails)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from google.protobuf import descriptor_pb2

from grpc_server.codegen import DESCRIPTORS, PROTO_ROOT, descriptor_set

from .conftest import client_missing

ROOT = PROTO_ROOT.parent
BUF = ROOT / "tests" / "node" / "node_modules" / ".bin" / "buf"
WAIT_S = 120  # an upper bound for buf to answer, never a measured timing


def test_every_file_names_its_package_for_every_language() -> None:
    files = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTORS.read_bytes()).file
    ours = [f for f in files if f.package == "invocation_lifecycle.v1"]
    assert {f.name for f in ours} == {f"invocation_lifecycle/v1/{n}.proto" for n in ("admin", "common", "simulation")}
    for f in ours:
        o = f.options
        assert o.java_package == "dev.invocation_lifecycle.v1" and o.java_multiple_files, f.name
        assert o.go_package.endswith("/invocation_lifecycle/v1;invocation_lifecyclev1"), f.name
        assert o.csharp_namespace == "InvocationLifecycle.V1" and o.objc_class_prefix == "ILX", f.name
    assert any(f.name == "google/protobuf/empty.proto" for f in files)  # imports included
    assert DESCRIPTORS.read_bytes() == descriptor_set(), "run `make codegen`: the descriptor set is stale"


def _buf(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    if not BUF.exists():
        client_missing("buf is not installed: npm ci --prefix tests/node (make lint and make test do it)")
    return subprocess.run([str(BUF), *args], cwd=cwd, capture_output=True, text=True, timeout=WAIT_S, check=False)


def test_buf_lint_is_clean_and_nothing_breaks_against_the_baseline() -> None:
    linted = _buf("lint")
    assert linted.returncode == 0, linted.stdout + linted.stderr
    compared = _buf("breaking", "--against", "protos/buf-baseline.binpb")
    assert compared.returncode == 0, compared.stdout + compared.stderr


def test_a_removed_field_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    shutil.copytree(PROTO_ROOT, tmp_path / "protos")
    common = tmp_path / "protos" / "invocation_lifecycle" / "v1" / "common.proto"
    text = common.read_text(encoding="utf-8")
    assert "  optional string idempotency_key = 13;\n" in text
    common.write_text(text.replace("  optional string idempotency_key = 13;\n", ""), encoding="utf-8")
    compared = _buf("breaking", "--against", str(ROOT / "protos" / "buf-baseline.binpb"), cwd=tmp_path)
    assert compared.returncode != 0 and "idempotency_key" in compared.stdout + compared.stderr
