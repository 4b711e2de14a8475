"""The Flask guard-test app: ``gunicorn guard_flask:app`` (threads, several workers)."""

from __future__ import annotations

from flask import Flask
from guard_common import handle, redis_store

from qstash_receiver.adapters.flask import current_message, verify_qstash

app = Flask(__name__)


@app.post("/qstash")
@verify_qstash(dedupe=redis_store())
def qstash() -> tuple[str, int]:
    status, text = handle(current_message())
    return text, status
