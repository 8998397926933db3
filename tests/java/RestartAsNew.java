// A client in another language: calls AdminService.RestartAsNew with grpc-java, built only from
// Debian's packages (see tests/java/README.md), and reads the error the way any gRPC client would:
// the status code, and google.rpc.Status / google.rpc.ErrorInfo from the standard
// grpc-status-details-bin trailer, through grpc-protobuf's StatusProto.
//
//   java RestartAsNew --target HOST:PORT INVOCATION_ID [--from N] [--deployment X]
//
// Prints one JSON object on stdout, the same keys as the Node.js client's:
//   {"ok": true, "new_invocation_id": "inv_..."}
//   {"ok": false, "code": 9, "code_name": "FAILED_PRECONDITION", "message": "...",
//    "status": {"code": 9, "message": "..."}, "reason": "STILL_RUNNING",
//    "domain": "invocation-lifecycle.dev", "metadata": {"http_status": "409", ...}, "http_status": "409"}
// Exits 0 when it could read an answer (success or a well-formed error), 1 otherwise.

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import dev.invocation_lifecycle.v1.AdminServiceGrpc;
import dev.invocation_lifecycle.v1.DeploymentSelector;
import dev.invocation_lifecycle.v1.RestartAsNewRequest;
import dev.invocation_lifecycle.v1.RestartAsNewResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

public final class RestartAsNew {
  private static final String USAGE =
      "usage: RestartAsNew --target HOST:PORT INVOCATION_ID [--from N] [--deployment X]";

  /** The helper a Java client needs: the ErrorInfo (reason, domain, http_status) of a rich error, or null. */
  static ErrorInfo errorInfo(com.google.rpc.Status status) throws InvalidProtocolBufferException {
    for (Any detail : status.getDetailsList()) {
      if (detail.is(ErrorInfo.class)) {
        return detail.unpack(ErrorInfo.class);
      }
    }
    return null;
  }

  public static void main(String[] argv) throws Exception {
    String target = null;
    String invocationId = null;
    RestartAsNewRequest.Builder request = RestartAsNewRequest.newBuilder();
    for (int i = 0; i < argv.length; i++) {
      String flag = argv[i];
      if ((flag.equals("--target") || flag.equals("--from") || flag.equals("--deployment")) && i + 1 < argv.length) {
        String value = argv[++i];
        if (flag.equals("--target")) {
          target = value;
        } else if (flag.equals("--from")) {
          try {
            request.setFromIndex(Integer.parseUnsignedInt(value));
          } catch (NumberFormatException e) {
            fail("--from takes an entry index from 0 to 4294967295, not '" + value + "'");
          }
        } else {
          request.setDeployment(selector(value));
        }
      } else if (invocationId == null && !flag.startsWith("--")) {
        invocationId = flag;
      } else {
        fail(USAGE);
      }
    }
    if (target == null || invocationId == null) {
      fail(USAGE);
    }
    request.setInvocationId(invocationId);

    ManagedChannel channel = ManagedChannelBuilder.forTarget(target).usePlaintext().build();
    int exitCode = 0;
    try {
      RestartAsNewResponse response =
          AdminServiceGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS).restartAsNew(request.build());
      System.out.println("{\"ok\": true, \"new_invocation_id\": " + quote(response.getNewInvocationId()) + "}");
    } catch (StatusRuntimeException e) {
      com.google.rpc.Status status = StatusProto.fromThrowable(e);
      ErrorInfo info = status == null ? null : errorInfo(status);
      System.out.println(describe(e.getStatus(), status, info));
      exitCode = info == null ? 1 : 0;
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    System.exit(exitCode);
  }

  private static DeploymentSelector selector(String value) {
    switch (value.toLowerCase()) {
      case "keep":
        return DeploymentSelector.newBuilder().setMode(DeploymentSelector.Mode.MODE_KEEP).build();
      case "latest":
        return DeploymentSelector.newBuilder().setMode(DeploymentSelector.Mode.MODE_LATEST).build();
      default:
        return DeploymentSelector.newBuilder().setId(value).build();
    }
  }

  private static String describe(io.grpc.Status grpcStatus, com.google.rpc.Status status, ErrorInfo info) {
    StringBuilder out = new StringBuilder("{\"ok\": false");
    out.append(", \"code\": ").append(grpcStatus.getCode().value());
    out.append(", \"code_name\": ").append(quote(grpcStatus.getCode().name()));
    out.append(", \"message\": ").append(quote(grpcStatus.getDescription()));
    if (status == null) {
      return out.append(", \"problem\": \"no grpc-status-details-bin trailer\"}").toString();
    }
    out.append(", \"status\": {\"code\": ").append(status.getCode());
    out.append(", \"message\": ").append(quote(status.getMessage())).append("}");
    if (info != null) {
      out.append(", \"reason\": ").append(quote(info.getReason()));
      out.append(", \"domain\": ").append(quote(info.getDomain()));
      out.append(", \"metadata\": {");
      String sep = "";
      for (Map.Entry<String, String> entry : new TreeMap<>(info.getMetadataMap()).entrySet()) {
        out.append(sep).append(quote(entry.getKey())).append(": ").append(quote(entry.getValue()));
        sep = ", ";
      }
      out.append("}, \"http_status\": ").append(quote(info.getMetadataOrDefault("http_status", null)));
    }
    return out.append("}").toString();
  }

  /** A JSON string literal (or null). */
  private static String quote(String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder out = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        out.append('\\').append(c);
      } else if (c < 0x20) {
        out.append(String.format("\\u%04x", (int) c));
      } else {
        out.append(c);
      }
    }
    return out.append('"').toString();
  }

  private static void fail(String message) {
    System.err.println(message);
    System.exit(2);
  }
}
