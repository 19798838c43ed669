"""Container health probe: ``python -m gempool.common.healthcheck ADDRESS``; exit 0 healthy, 1 not.

ADDRESS is ``host:port`` of a gRPC server (asks the standard health service for the overall
status) or an ``http://`` URL (any 2xx answer is healthy). Uses only what every image has.
"""

import argparse
import sys
import urllib.error
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check_grpc(address: str, service: str, timeout: float) -> str | None:
    """None when SERVING, else what is wrong."""
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as exc:
            return f"{exc.code().name}: {exc.details()}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
    return None


def check_http(url: str, timeout: float) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return str(exc)
    return None if 200 <= status < 300 else f"HTTP {status}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gempool.common.healthcheck")
    parser.add_argument("address", help="host:port (gRPC) or http://host:port/path")
    parser.add_argument("--service", default="", help="gRPC health service name (default: overall)")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    if args.address.startswith(("http://", "https://")):
        problem = check_http(args.address, args.timeout)
    else:
        problem = check_grpc(args.address, args.service, args.timeout)
    if problem is not None:
        sys.stderr.write(f"unhealthy: {args.address}: {problem}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
