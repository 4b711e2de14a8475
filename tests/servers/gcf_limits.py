"""Cloud Functions for the body-limit and URL-check tests, served by functions-framework.

``functions-framework --source tests/servers/gcf_limits.py --target qstash_limits``: a small
body limit, and the signed URL checked as Google's front end forwards it (``public_url``).
``unchecked`` keeps the default (no URL check). Keys come from the environment.
"""

from __future__ import annotations

import functions_framework
from flask import Request

from qstash_receiver.adapters.gcf import current_message, public_url, verify_qstash

#: The body limit (the memory test allows twice this much growth).
LIMIT = 4 * 1024 * 1024  # large beside the servers' own fixed buffering (uvicorn: ~1 MiB)


@functions_framework.http
@verify_qstash(max_body_bytes=LIMIT, url=public_url)
def qstash_limits(request: Request) -> dict[str, object]:
    return {"path": request.path, "message_id": current_message().message_id}


@functions_framework.http
@verify_qstash
def unchecked(request: Request) -> dict[str, object]:
    return {"path": request.path, "message_id": current_message().message_id}
