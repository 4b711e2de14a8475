"""A Flask app for the body-limit and URL-check tests, served by gunicorn.

``gunicorn flask_limits:proxied --chdir tests/servers``: the app behind werkzeug's ProxyFix,
as it is deployed behind a proxy that sets ``X-Forwarded-Proto``, ``-Host`` and ``-Prefix``
(a request without them is served as a direct one). Keys come from the environment.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from qstash_receiver.adapters.flask import current_message, request_url, verify_qstash

#: The body limit of /limited (the memory test allows twice this much growth).
LIMIT = 4 * 1024 * 1024  # large beside the servers' own fixed buffering (uvicorn: ~1 MiB)

app = Flask(__name__)


@app.post("/limited")
@verify_qstash(max_body_bytes=LIMIT)
def limited() -> str:
    return "handled"


@app.post("/checked/<name>")
@verify_qstash(url=request_url)
def checked(name: str) -> dict[str, object]:
    return {"name": name, "message_id": current_message().message_id}


@app.post("/unchecked/<name>")
@verify_qstash
def unchecked(name: str) -> dict[str, object]:
    return {"name": name, "message_id": current_message().message_id}


proxied = ProxyFix(app.wsgi_app, x_proto=1, x_host=1, x_prefix=1)
