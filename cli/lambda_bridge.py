"""A local HTTP-to-Lambda bridge: each request becomes an API Gateway HTTP API (v2) event.

For the demo and local tries of a Lambda handler without AWS:

```python
python -m qstash_receiver.cli.lambda_bridge --handler samples/aws_lambda/handler.py:handler
```

The body is passed base64-encoded (``isBase64Encoded: true``), as API Gateway does for
binary payloads; the handler's result dict becomes the HTTP answer. One request at a time,
like one Lambda instance. A development tool only.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ._common import declared_length

__all__ = ["LambdaContext", "load_handler", "main", "make_server", "to_event", "to_response"]

LambdaHandler = Callable[[dict[str, Any], Any], Any]


class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name = "qstash-receiver-local"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:qstash-receiver-local"
    memory_limit_in_mb = 128
    log_group_name = "/aws/lambda/qstash-receiver-local"
    log_stream_name = "local"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left of a 30-second budget."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def to_event(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    """An API Gateway HTTP API payload-format-2.0 event for one request."""
    parts = urlsplit(target)
    merged: dict[str, str] = {}
    for name, value in headers:  # v2 joins repeated headers with commas, names lower-case
        key = name.lower()
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
        "headers": merged,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": merged.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": parts.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }
    if parts.query:
        event["queryStringParameters"] = dict(parse_qsl(parts.query, keep_blank_values=True))
    return event


def to_response(result: Any) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body from a handler's result (HTTP API v2 rules)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # v2 treats anything else as a 200 JSON answer.
        return 200, {"Content-Type": "application/json"}, json.dumps(result).encode()
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(name)] = ",".join(str(v) for v in values)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return int(result["statusCode"]), headers, body


def load_handler(spec: str) -> LambdaHandler:
    """Import ``path/to/file.py:function`` (the file's directory is put on ``sys.path``)."""
    file, _, name = spec.rpartition(":")
    path = Path(file).resolve()
    if not file or not path.is_file():
        raise SystemExit(f"error: handler file not found: {file or spec}")
    sys.path.insert(0, str(path.parent))
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    if module_spec is None or module_spec.loader is None:
        raise SystemExit(f"error: cannot import {file}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[path.stem] = module
    module_spec.loader.exec_module(module)
    handler: LambdaHandler = getattr(module, name)
    return handler


class _Bridge(BaseHTTPRequestHandler):
    handler: LambdaHandler

    def _invoke(self) -> None:
        length = declared_length(self.headers.get("Content-Length"))
        if length is None:
            self.send_error(400, "invalid Content-Length")
            return
        body = self.rfile.read(length)
        event = to_event(
            self.command, self.path, list(self.headers.items()), body, self.client_address[0]
        )
        try:
            status, headers, answer = to_response(type(self).handler(event, LambdaContext()))
        except Exception:  # a crashing function is a 502 from API Gateway, not a dead bridge
            logging.getLogger("qstash_receiver.bridge").exception("the handler raised")
            status, headers, answer = 502, {"Content-Type": "text/plain"}, b"handler error"
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _invoke

    def log_message(self, format: str, *args: object) -> None:
        logging.getLogger("qstash_receiver.bridge").debug(format, *args)


class _BridgeServer(HTTPServer):
    # One request at a time, as one Lambda instance serves them; a burst waits in the backlog
    # (socketserver's default of 5 resets the rest).
    request_queue_size = 128


def make_server(handler: LambdaHandler, host: str = "127.0.0.1", port: int = 0) -> HTTPServer:
    """An HTTP server (not started) that invokes ``handler`` for every request."""
    bridge = type("Bridge", (_Bridge,), {"handler": staticmethod(handler)})
    return _BridgeServer((host, port), bridge)


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--handler", required=True, help="path/to/file.py:function")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    server = make_server(load_handler(args.handler), args.host, args.port)
    port = server.server_address[1]
    print(f"lambda bridge for {args.handler} on http://{args.host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
