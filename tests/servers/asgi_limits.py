"""A FastAPI app for the body-limit test, served by uvicorn.

``uvicorn asgi_limits:app --app-dir tests/servers``: ``/limited`` verifies through the FastAPI
dependency, ``/middleware/limited`` through the Starlette middleware (pure ASGI, in front of
the routing). Keys come from the environment.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from starlette.middleware import Middleware

from qstash_receiver import VerifiedMessage
from qstash_receiver.adapters.fastapi import QStashVerifier, install
from qstash_receiver.adapters.starlette import QStashMiddleware

#: The body limit of both routes (the memory test allows twice this much growth).
LIMIT = 4 * 1024 * 1024  # large beside the servers' own fixed buffering (uvicorn: ~1 MiB)

verified = QStashVerifier(max_body_bytes=LIMIT)
app = FastAPI(
    middleware=[Middleware(QStashMiddleware, paths=["/middleware/"], max_body_bytes=LIMIT)]
)
install(app)


@app.post("/limited")
async def limited(message: Annotated[VerifiedMessage, Depends(verified)]) -> str:
    return "handled"


@app.post("/middleware/limited")
async def middleware_limited() -> str:
    return "handled"
