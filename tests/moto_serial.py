"""moto in server mode, serving one request at a time: ``python tests/moto_serial.py HOST PORT``.

DynamoDB applies each conditional write atomically. ``moto_server`` serves requests in threads,
and its conditional ``PutItem`` checks and writes without a lock, so two concurrent puts can both
pass the check (seen: two claims of one message out of 50 concurrent ones). Serving one request
at a time restores the atomicity the guard relies on, with moto's own server application.
"""

from __future__ import annotations

import os
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
run_simple(
    host,
    port,
    DomainDispatcherApplication(create_backend_app),
    threaded=False,
    request_handler=MotoRequestHandler,
)
