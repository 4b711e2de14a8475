"""A QStash endpoint for Vercel's Python runtime: ``api/qstash.py`` serves ``/api/qstash``.

Vercel serves the ``handler`` class of a file under ``api/`` (a ``BaseHTTPRequestHandler``).
Configuration comes from the project's environment variables: ``QSTASH_REGION`` plus both
regions' signing keys for migration mode, or ``QSTASH_CURRENT_SIGNING_KEY``/
``QSTASH_NEXT_SIGNING_KEY``. Locally, the standard library's server runs it the same way::

    python samples/vercel/api/qstash.py 8000     # then POST to http://127.0.0.1:8000/api/qstash
"""

from __future__ import annotations

import json
import logging
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from qstash_receiver.adapters.http_server import get_message, verify_qstash

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
logger = logging.getLogger("qstash_sample")


class handler(BaseHTTPRequestHandler):  # the name Vercel's runtime looks for
    """Verified ``POST`` (and the other methods QStash may deliver with)."""

    @verify_qstash
    def do_POST(self) -> None:
        message = get_message(self)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # the same bytes
        logger.info("handled %s (%d bytes)", message.message_id, len(body))
        answer = json.dumps(
            {
                "ok": True,
                "message_id": message.message_id,
                "key_region": message.key_region,
                "platform": "http_server",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST


if __name__ == "__main__":  # local runs only: Vercel imports the module and serves `handler`
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
