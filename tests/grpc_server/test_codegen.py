"""The committed generated code is what the protos give; every RPC and field is documented."""

from __future__ import annotations

import re
from pathlib import Path

from grpc_server import codegen


def test_generated_code_matches_the_protos() -> None:
    problems = codegen.drift()
    assert problems == [], (
        f"grpc_server/gen/ is out of date with protos/: run `{codegen.COMMAND}` and commit it.\n"
        + "\n".join(problems[:60])
    )


def test_generated_modules_import_from_the_package() -> None:
    from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2, admin_pb2_grpc, simulation_pb2_grpc

    assert admin_pb2.RestartAsNewRequest.__module__ == "grpc_server.gen.invocation_lifecycle.v1.admin_pb2"
    assert admin_pb2.RestartAsNewRequest.DESCRIPTOR.fields_by_name["from_index"].json_name == "from"
    assert callable(admin_pb2_grpc.add_AdminServiceServicer_to_server)
    assert callable(simulation_pb2_grpc.add_SimulationServiceServicer_to_server)


def test_every_rpc_field_and_enum_value_has_a_comment() -> None:
    """Each declaration line in the protos is directly preceded by a // comment line."""
    declaration = re.compile(
        r"^\s*(rpc |message |enum |service |oneof |(optional |repeated )?[\w.]+ \w+ = \d+"
        r"|[A-Z][A-Z0-9_]* = \d+)"
    )
    missing = []
    seen = 0
    for path in sorted(codegen.PROTO_ROOT.rglob("*.proto")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            seen += bool(declaration.match(line))
            if declaration.match(line) and not lines[number - 1].strip().startswith("//"):
                missing.append(f"{path.name}:{number + 1}: {line.strip()}")
    assert seen > 200 and missing == []


def test_every_rpc_is_called_by_a_test() -> None:
    """Each RPC of both services appears as ``.Name(`` in the tests of this directory."""
    from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2, simulation_pb2

    sources = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    sources += (Path(__file__).parent / "conftest.py").read_text()
    methods = [
        m.name for f in (admin_pb2, simulation_pb2) for s in f.DESCRIPTOR.services_by_name.values() for m in s.methods
    ]
    assert len(methods) == 31
    assert [m for m in methods if f".{m}(" not in sources] == []
