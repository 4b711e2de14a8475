"""Azure Functions adapter: HTTP functions of the Python v2 programming model.


```python
import azure.functions as func
from qstash_receiver.adapters.azure_functions import get_message, verify_qstash

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

@app.route(route="qstash", methods=["POST"])
@verify_qstash                          # below @app.route; or @verify_qstash(url=request_url)
def qstash(req: func.HttpRequest) -> func.HttpResponse:
    message = get_message(req)          # the verified delivery; req.get_json() still works
    return func.HttpResponse("ok")
```
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar, overload

from qstash_receiver.integration import missing_extra

try:
    import azure.functions as func
except ModuleNotFoundError as error:
    raise missing_extra(error, "azure") from None

from qstash_receiver import ConfigError, QStashError, Receiver, SignatureError, VerifiedMessage
from qstash_receiver.integration import Answer, Endpoint, Options, Responder, wrap_view
from qstash_receiver.names import CONTENT_LENGTH_HEADER

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from qstash_receiver.integration import OptionArgs

__all__ = ["verify_qstash", "get_message", "request_url", "MESSAGE_ATTRIBUTE", "default_receiver"]
__all__ += ["VerifiedMessage", "QStashError", "SignatureError", "ConfigError"]

P = ParamSpec("P")
R = TypeVar("R")

#: The attribute of the ``func.HttpRequest`` holding the
#: [`VerifiedMessage`][qstash_receiver.adapters.azure_functions.VerifiedMessage].
MESSAGE_ATTRIBUTE: Final = "qstash_message"
#: The receiver used without ``receiver=``: it reads the environment (App Settings) on the first
#: request; ``default_receiver.reset()`` reads it again.
default_receiver = Receiver()


def get_message(req: func.HttpRequest) -> VerifiedMessage:
    """The message verified for ``req``.

    Raises:
        LookupError: the request was not verified.
    """
    message = getattr(req, MESSAGE_ATTRIBUTE, None)
    if not isinstance(message, VerifiedMessage):
        raise LookupError("no verified QStash message: the request was not verified")
    return message


def request_url(req: func.HttpRequest) -> str:
    """The URL the Functions host says was called (``req.url``), for ``url=request_url``."""
    return str(req.url)


def _answer(rejection: Answer) -> func.HttpResponse:
    return func.HttpResponse(
        rejection.text, status_code=rejection.status, headers=rejection.headers
    )


def _status(response: object) -> int | None:
    return response.status_code if isinstance(response, func.HttpResponse) else None


_RESPONDER: Responder[Any] = Responder(_answer, _status)


def _verifier(endpoint: Endpoint) -> Callable[..., VerifiedMessage | func.HttpResponse]:
    def verify(*args: Any, **kwargs: Any) -> VerifiedMessage | func.HttpResponse:
        # The worker passes bindings by name (req=...); a request may come with other bindings.
        req = next((a for a in (*args, *kwargs.values()) if isinstance(a, func.HttpRequest)), None)
        if req is None:
            raise TypeError("verify_qstash decorates HTTP functions taking a func.HttpRequest")
        early = endpoint.too_large(req.headers.get(CONTENT_LENGTH_HEADER), req.headers)
        if early is not None:  # the host has buffered the body: it is not hashed or handled
            return _answer(early)
        result = endpoint.verify(req.headers, req.get_body(), req)
        if isinstance(result, Answer):
            return _answer(result)
        setattr(req, MESSAGE_ATTRIBUTE, result)
        return result

    return verify


def _decorate(function: Callable[P, R], endpoint: Endpoint) -> Callable[P, R]:
    return wrap_view(function, _verifier(endpoint), endpoint, _RESPONDER)


@overload
def verify_qstash(function: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def verify_qstash(**options: Unpack[OptionArgs]) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def verify_qstash(
    function: Callable[P, R] | None = None, /, **options: Unpack[OptionArgs]
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Verify QStash deliveries before an HTTP function (sync or ``async def``) runs.

    Put it below ``@app.route(...)``. The function runs only for verified requests, with
    [`get_message()`][qstash_receiver.adapters.azure_functions.get_message]; ``req.get_body()`` and
    ``req.get_json()`` are untouched. Rejections are ``text/plain`` ``func.HttpResponse``\\ s: 401,
    413, 500 (no usable keys). A function raising ``NonRetryableError`` is answered 489 (QStash does
    not retry), ``RetryLater`` 503 with ``Retry-After``.

    Keyword Args:
        url (UrlOption): the signed destination URL must equal it; a callable gets the
            ``func.HttpRequest`` (e.g.
            [`request_url()`][qstash_receiver.adapters.azure_functions.request_url]). Default: no
            URL check.
        clock_tolerance (float): seconds of clock skew accepted.
        max_body_bytes (int): larger bodies (declared or buffered) are refused with 413.
        receiver (Receiver | None): default: one reading the environment, where App Settings
            (and Key Vault references) arrive, on the first request.
        dedupe (DedupeStore | None): the duplicate-delivery guard's store
            ([`qstash_receiver.dedupe`][qstash_receiver.dedupe]; a worker thread calls it for
            ``async`` functions): each message runs the function once; a copy of a handled one is
            answered 200 without running it, one in progress 409; an unreachable store 503.

    Raises:
        ValueError, TypeError: invalid options (when decorating).
    """
    endpoint = Endpoint(Options(**options), default_receiver)
    if function is not None:
        return _decorate(function, endpoint)
    return functools.partial(_decorate, endpoint=endpoint)
