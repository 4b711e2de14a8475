"""Google Cloud Functions adapter for functions-framework HTTP functions.


```python
import functions_framework
from qstash_receiver.adapters.gcf import current_message, public_url, verify_qstash

@functions_framework.http
@verify_qstash(url=public_url)          # url= is optional: checks the signed URL
def qstash_handler(request):
    message = current_message()         # also flask.g.qstash_message
    ...
```

``verify_qstash`` is the Flask adapter's decorator: functions-framework runs the function as a Flask
view. What this module adds is [`PublicUrl`][qstash_receiver.adapters.gcf.PublicUrl], for the URL
check on Google Cloud.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from qstash_receiver import ConfigError, QStashError, SignatureError, VerifiedMessage
from qstash_receiver import names as N
from qstash_receiver.integration import missing_extra

try:
    from flask import Request
except ModuleNotFoundError as error:
    raise missing_extra(error, "gcf") from None

from .flask import MESSAGE_ATTRIBUTE, current_message, request_target, verify_qstash

__all__ = [
    "verify_qstash",
    "PublicUrl",
    "public_url",
    "request_url",
    "current_message",
    "MESSAGE_ATTRIBUTE",
    "VerifiedMessage",
    "QStashError",
    "SignatureError",
    "ConfigError",
]

#: Hosts whose front end strips the function name from the path before the function sees it.
FUNCTION_NAME_HOST_SUFFIX = ".cloudfunctions.net"


def _first(value: str | None) -> str | None:
    # Proxies append to X-Forwarded-*; the first value is what the client used.
    return (value.split(",")[0].strip() or None) if value else None


class PublicUrl:
    """Rebuilds the public URL of a request from what Google's front end forwards.

    Scheme from ``X-Forwarded-Proto`` (Google terminates TLS and forwards plain HTTP), host
    from ``Host`` (or ``X-Forwarded-Host`` when trusted), then the path and query string.
    On a ``*.cloudfunctions.net`` host the function name, which the front end strips from
    the path, is put back: ``function_name``, else ``$K_SERVICE``, else ``$FUNCTION_NAME``.

    Args:
        function_name: the deployed function's name, when it differs from ``K_SERVICE``.
        trust_forwarded_host: use ``X-Forwarded-Host`` (set by Firebase Hosting or a proxy
            of yours). Off by default: a client can send it to a plain Cloud Run URL.
        environ: where to read ``K_SERVICE`` / ``FUNCTION_NAME``; default ``os.environ``.
    """

    __slots__ = ("_environ", "_function_name", "_trust_forwarded_host")

    def __init__(
        self,
        *,
        function_name: str | None = None,
        trust_forwarded_host: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._function_name = function_name
        self._trust_forwarded_host = trust_forwarded_host
        self._environ = environ

    def __call__(self, request: Request) -> str:
        """The URL QStash was asked to deliver ``request`` to."""
        headers = request.headers
        scheme = _first(headers.get("X-Forwarded-Proto")) or request.scheme
        forwarded = _first(headers.get("X-Forwarded-Host")) if self._trust_forwarded_host else None
        host = forwarded or request.host
        target = request_target(request)
        if host.lower().endswith(FUNCTION_NAME_HOST_SUFFIX):
            environ = os.environ if self._environ is None else self._environ
            name = self._function_name or environ.get(N.K_SERVICE) or environ.get(N.FUNCTION_NAME)
            if name:  # "/" is the function's own URL, which has no trailing slash
                rest = target[1:] if target == "/" or target.startswith("/?") else target
                target = f"/{name}{rest}"
        return f"{scheme}://{host}{target}"


#: [`PublicUrl`][qstash_receiver.adapters.gcf.PublicUrl] with its defaults:
#: ``@verify_qstash(url=public_url)``.
public_url = PublicUrl()
#: The same, under the name the other adapters use for their automatic URL check.
request_url = public_url
