"""The FastAPI guard-test app: ``uvicorn guard_fastapi:app`` (one event loop).

``/qstash`` is guarded by an :class:`AsyncRedisStore` (awaited on the loop); ``/plain`` is an
ordinary sync route, run in Starlette's thread pool, which the guard must never fill.
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import PlainTextResponse
from guard_common import LEASE, handle

from qstash_receiver import VerifiedMessage
from qstash_receiver.adapters.fastapi import QStashVerifier, install
from qstash_receiver.dedupe import AsyncRedisStore

app = FastAPI()
install(app)
guard = QStashVerifier(dedupe=AsyncRedisStore.from_url(os.environ["REDIS_URL"], lease=LEASE))


@app.post("/qstash")
async def qstash(message: Annotated[VerifiedMessage, Depends(guard)]) -> PlainTextResponse:
    status, text = handle(message)
    return PlainTextResponse(text, status_code=status)


@app.get("/plain")
def plain() -> str:
    return "ok"
