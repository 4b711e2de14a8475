"""QStash deliveries to a Google Cloud Function (functions-framework HTTP functions).

Deployed from this directory (``main.py`` + ``requirements.txt``), configured from the
environment: ``QSTASH_REGION`` plus both regions' signing keys for migration mode, or
``QSTASH_CURRENT_SIGNING_KEY``/``QSTASH_NEXT_SIGNING_KEY``. Run it locally with::

    functions-framework --target qstash_handler --source samples/gcf/main.py --port 8080
"""

from __future__ import annotations

import logging

import functions_framework
from flask import Request

from qstash_receiver import VerifiedMessage
from qstash_receiver.adapters.gcf import current_message, public_url, verify_qstash

# Cloud Functions turns every stderr line into a log entry; show INFO too.
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
logger = logging.getLogger("qstash_sample")


def handled(message: VerifiedMessage) -> dict[str, object]:
    """The answer to a verified delivery (and its ``handled`` log line)."""
    logger.info("handled %s", message.message_id)
    return {
        "ok": True,
        "message_id": message.message_id,
        "key_region": message.key_region,
        "platform": "gcf",
    }


@functions_framework.http
@verify_qstash
def qstash_handler(request: Request) -> dict[str, object]:
    return handled(current_message())


@functions_framework.http
@verify_qstash(url=public_url)  # also checks the signed URL, rebuilt from Google's headers
def qstash_handler_url_checked(request: Request) -> dict[str, object]:
    return handled(current_message())
