"""Django adapter: verify QStash deliveries in function and class-based views.


```python
from qstash_receiver.adapters.django import QStashVerifiedMixin, get_message, verify_qstash

@verify_qstash
def hook(request):
    message = get_message(request)          # also request.qstash_message
    ...
```

Add ``"qstash_receiver.adapters.django"`` to ``INSTALLED_APPS`` for the system checks.
Configuration comes from ``QSTASH_*`` Django settings, falling back to the environment.
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
    import asgiref  # noqa: F401  (Django's own dependency, imported first below)
    import django  # noqa: F401
except ModuleNotFoundError as error:
    raise missing_extra(error, "django") from None

from .decorators import verify_qstash
from .dedupe import CacheStore
from .mixins import QStashVerifiedMixin
from .urlcheck import request_url
from .verification import MESSAGE_ATTRIBUTE, get_message

__all__ = [
    "verify_qstash",
    "QStashVerifiedMixin",
    "CacheStore",
    "get_message",
    "request_url",
    "MESSAGE_ATTRIBUTE",
    "VerifiedMessage",
    "QStashError",
    "SignatureError",
    "ConfigError",
    "NonRetryableError",
    "RetryLater",
]
