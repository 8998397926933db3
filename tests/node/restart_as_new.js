#!/usr/bin/env node
// A client in another language: calls AdminService.RestartAsNew with @grpc/grpc-js and
// @grpc/proto-loader, and reads the error the way any gRPC client would: the status code, and
// google.rpc.Status / google.rpc.ErrorInfo from the standard grpc-status-details-bin trailer.
//
//   node restart_as_new.js --target HOST:PORT --googleapis DIR INVOCATION_ID [--from N] [--deployment X]
//
// --googleapis is a directory holding google/rpc/status.proto and error_details.proto (the test
// passes the one googleapis-common-protos installs). Prints one JSON object on stdout:
//   {"ok": true, "new_invocation_id": "inv_..."}
//   {"ok": false, "code": 9, "code_name": "FAILED_PRECONDITION", "message": "...",
//    "status": {"code": 9, "message": "..."}, "reason": "STILL_RUNNING",
//    "domain": "invocation-lifecycle.dev", "metadata": {"http_status": "409", ...}, "http_status": "409"}
// Exits 0 when it could read an answer (success or a well-formed error), 1 otherwise.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

function parseArgs(argv) {
  const args = { protos: path.join(__dirname, '..', '..', 'protos') };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--target' || flag === '--googleapis' || flag === '--from' || flag === '--deployment' ||
        flag === '--protos') {
      args[flag.slice(2)] = argv[++i];
    } else {
      positional.push(flag);
    }
  }
  if (!args.target || !args.googleapis || positional.length !== 1) {
    throw new Error('usage: restart_as_new.js --target HOST:PORT --googleapis DIR INVOCATION_ID [--from N] [--deployment X]');
  }
  args.invocationId = positional[0];
  return args;
}

function loadErrorTypes(googleapisDir) {
  const root = new protobuf.Root();
  // google/protobuf/*.proto come bundled with protobufjs; google/rpc/* from googleapis.
  root.resolvePath = (origin, target) => path.join(googleapisDir, target);
  root.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
  return { Status: root.lookupType('google.rpc.Status'), ErrorInfo: root.lookupType('google.rpc.ErrorInfo') };
}

// The helper a Node.js client needs: the google.rpc.Status of a rich error and its ErrorInfo
// (reason, domain, metadata.http_status), or nulls when the error carries none.
function richError(err, types) {
  const raw = err.metadata ? err.metadata.get('grpc-status-details-bin') : [];
  if (raw.length === 0) return { status: null, info: null };
  const status = types.Status.decode(raw[0]);
  const detail = status.details.find((d) => d.type_url.endsWith('/google.rpc.ErrorInfo'));
  return { status, info: detail ? types.ErrorInfo.decode(detail.value) : null };
}

function describeError(err, types) {
  const out = { ok: false, code: err.code, code_name: grpc.status[err.code], message: err.details };
  const { status, info } = richError(err, types);
  if (status === null) return { ...out, problem: 'no grpc-status-details-bin trailer' };
  out.status = { code: status.code, message: status.message };
  if (info !== null) {
    Object.assign(out, { reason: info.reason, domain: info.domain, metadata: info.metadata });
    out.http_status = info.metadata.http_status;
  }
  return out;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const definition = protoLoader.loadSync('invocation_lifecycle/v1/admin.proto', {
    includeDirs: [args.protos], keepCase: true, longs: String, enums: String, defaults: false, oneofs: true,
  });
  const v1 = grpc.loadPackageDefinition(definition).invocation_lifecycle.v1;
  const client = new v1.AdminService(args.target, grpc.credentials.createInsecure());
  const request = { invocation_id: args.invocationId };
  if (args.from !== undefined) request.from_index = Number(args.from);
  if (args.deployment !== undefined) {
    const mode = { keep: 'MODE_KEEP', latest: 'MODE_LATEST' }[args.deployment.toLowerCase()];
    request.deployment = mode ? { mode } : { id: args.deployment };
  }
  const types = loadErrorTypes(args.googleapis);
  client.RestartAsNew(request, { deadline: Date.now() + 20000 }, (err, response) => {
    client.close();
    const answer = err ? describeError(err, types) : { ok: true, new_invocation_id: response.new_invocation_id };
    process.stdout.write(JSON.stringify(answer) + '\n');
    process.exitCode = answer.ok || answer.reason ? 0 : 1;
  });
}

main();
