"""QStash deliveries to an aiohttp app, verified in single-region or migration mode.

Configuration comes from the environment: ``QSTASH_REGION`` plus both regions' signing keys for
migration mode, or ``QSTASH_CURRENT_SIGNING_KEY``/``QSTASH_NEXT_SIGNING_KEY``. Three ways in:
``/qstash`` is a decorated handler; every path below ``/tasks`` is verified by the middleware
before routing; ``/jobs`` runs each message once (``dedupe=``) and refuses some for good.
Serve it with::

    python samples/aiohttp_app/app.py --host 127.0.0.1 --port 8080
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from aiohttp import web

from qstash_receiver import NonRetryableError, VerifiedMessage
from qstash_receiver.adapters.aiohttp import get_message, qstash_middleware, verify_qstash
from qstash_receiver.dedupe import MemoryStore

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
logger = logging.getLogger("qstash_sample")

#: QStash delivers with POST by default; a message may ask for any of these methods.
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def handled(message: VerifiedMessage) -> web.Response:
    """The answer to a verified delivery (and its ``handled`` log line)."""
    logger.info("handled %s", message.message_id)
    return web.json_response(
        {
            "ok": True,
            "message_id": message.message_id,
            "key_region": message.key_region,
            "platform": "aiohttp",
        }
    )


@verify_qstash
async def receive(request: web.Request) -> web.Response:
    return handled(get_message(request))


async def run_task(request: web.Request) -> web.Response:
    order: dict[str, Any] = await request.json()  # the verified body, read again
    logger.info("task %s for order %s", request.match_info["name"], order.get("order_id"))
    return handled(get_message(request))


# One store per process: this server runs one. Several processes share a RedisStore instead.
@verify_qstash(dedupe=MemoryStore())
async def job(request: web.Request) -> web.Response:
    if (await request.json()).get("case") == "non-retryable":
        raise NonRetryableError("this job can never succeed")  # 489: QStash stops retrying
    return handled(get_message(request))


def create_app() -> web.Application:
    """The sample's application."""
    app = web.Application(middlewares=[qstash_middleware(paths=["/tasks"])])
    for method in METHODS:
        app.router.add_route(method, "/qstash", receive)
    app.router.add_post("/tasks/{name}", run_task)
    app.router.add_post("/jobs", job)
    return app


def main(argv: list[str] | None = None) -> None:
    """Serve :func:`create_app` (``--host``, ``--port``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    web.run_app(create_app(), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
