"""A local OTLP/HTTP trace sink for the tracing benchmark: takes every export, counts spans.

Run: ``PYTHONPATH=benchmarks python -m benchkit.otlp_sink --port N``. ``POST
/v1/traces`` answers 200 with an empty ``ExportTraceServiceResponse``; ``GET
/count`` answers the number of spans received so far (decoded with
opentelemetry-proto), so the benchmark can show that the traced gateway exported.
"""

from __future__ import annotations

import argparse
import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from benchkit.system import CLIENT_CPU, pin

_ANSWER = ExportTraceServiceResponse().SerializeToString()


def serve(port: int) -> None:
    count = 0
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            nonlocal count
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            spans = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
            with lock:
                count += spans
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(_ANSWER)))
            self.end_headers()
            self.wfile.write(_ANSWER)

        def do_GET(self) -> None:
            with lock:
                answer = str(count).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    pin(CLIENT_CPU)  # off the server's CPU, beside the load client
    serve(args.port)


if __name__ == "__main__":
    main()
