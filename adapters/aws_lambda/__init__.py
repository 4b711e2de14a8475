"""AWS Lambda adapter: verify QStash deliveries behind API Gateway, Function URLs and ALB.


```python
from qstash_receiver.adapters.aws_lambda import get_message, http_response, verify_qstash

@verify_qstash
def handler(event, context):
    message = get_message(event)                      # a VerifiedMessage
    return http_response(event, 200, "ok")             # in the event's response shape
```

With Powertools' event handler, use ``QStashMiddleware`` from
``qstash_receiver.adapters.aws_lambda.middleware`` (kept out of this module: it imports
asyncio). Signing keys come from the environment, or from Secrets Manager / SSM Parameter
Store when ``QSTASH_SIGNING_KEYS_SECRET`` / ``QSTASH_SIGNING_KEYS_PARAMETER`` is set.
"""

from __future__ import annotations

from qstash_receiver import (
    ConfigError,
    NonRetryableError,
    QStashError,
    RetryLater,
    SignatureError,
    VerifiedMessage,
)
from qstash_receiver.integration import missing_extra

try:
    import aws_lambda_powertools  # noqa: F401  (the event data classes every module uses)
except ModuleNotFoundError as error:
    raise missing_extra(error, "lambda") from None

from .decorator import verify_qstash
from .events import UnsupportedEventError
from .keys import (
    PARAMETER_VARIABLE,
    SECRET_VARIABLE,
    KeyFetchError,
    StoredKeysReceiver,
    receiver_from_env,
)
from .message import MESSAGE_KEY, QStashEvent, get_message
from .responses import http_response

__all__ = [
    # handlers
    "verify_qstash",
    "get_message",
    "http_response",
    "QStashEvent",
    "MESSAGE_KEY",
    # keys from AWS
    "StoredKeysReceiver",
    "receiver_from_env",
    "SECRET_VARIABLE",
    "PARAMETER_VARIABLE",
    # errors
    "UnsupportedEventError",
    "KeyFetchError",
    "QStashError",
    "SignatureError",
    "ConfigError",
    "NonRetryableError",
    "RetryLater",
    "VerifiedMessage",
]
