"""Flask adapter: verify QStash deliveries in views, or in every view of a blueprint.


```python
qstash = QStash(app)                  # QSTASH_* from app.config, else the environment

@app.post("/qstash")
@verify_qstash
def hook():
    message = current_message()       # also flask.g.qstash_message
    ...

qstash.protect(jobs_blueprint)        # every view of the blueprint, no decorator needed

@app.post("/once")
@verify_qstash(dedupe=RedisStore(redis_client))   # each message id handled once
def once(): ...
```

Cloud Functions (functions-framework) runs HTTP functions as Flask views, so
[`qstash_receiver.adapters.gcf`][qstash_receiver.adapters.gcf] uses this module's decorator.
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

from .decorator import verify_qstash
from .extension import QStash
from .url import request_target, request_url
from .verification import MESSAGE_ATTRIBUTE, current_message

__all__ = [
    "verify_qstash",
    "QStash",
    "current_message",
    "request_url",
    "request_target",
    "MESSAGE_ATTRIBUTE",
    "VerifiedMessage",
    "QStashError",
    "SignatureError",
    "ConfigError",
    "NonRetryableError",
    "RetryLater",
]
