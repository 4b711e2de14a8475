"""Powertools event handler middleware: verify QStash deliveries before a route runs.

Kept out of the package's ``__init__``: the event handler imports asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Response
from aws_lambda_powertools.event_handler.middlewares import BaseMiddlewareHandler, NextMiddleware

from qstash_receiver.integration import Answer, Options, Responder

from .decorator import endpoint, remaining_seconds
from .events import verify_event
from .message import MESSAGE_KEY, get_message

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics, Tracer
    from typing_extensions import Unpack

    from qstash_receiver.integration import OptionArgs

__all__ = ["QStashMiddleware", "get_message"]


def _answer(rejection: Answer) -> Response[Any]:
    return Response(status_code=rejection.status, body=rejection.text, headers=rejection.headers)


def _status(response: object) -> int | None:
    return response.status_code if isinstance(response, Response) else None


#: How a Powertools route answers: a ``Response`` (what the next middleware returns).
_RESPONDER: Responder[Response[Any]] = Responder(_answer, _status)


class QStashMiddleware(BaseMiddlewareHandler[ApiGatewayResolver]):
    """Verify QStash deliveries in a Powertools event handler, globally or per route.

    Works with ``APIGatewayRestResolver``, ``APIGatewayHttpResolver``, ``ALBResolver`` and
    ``LambdaFunctionUrlResolver``:

    ```python
    app.use(middlewares=[QStashMiddleware()])              # every route, or
    @app.post("/qstash", middlewares=[QStashMiddleware()])  # one route
    ```

    The route runs only for verified deliveries; ``get_message(app)`` returns the message
    (also ``app.context["qstash_message"]``). Other requests get a Powertools ``Response``:
    401, 413 or 500, as ``text/plain``, in the resolver's response shape. A route raising
    ``NonRetryableError`` is answered 489 (QStash does not retry), ``RetryLater`` 503 with
    ``Retry-After``.

    Keyword Args:
        url (UrlOption): when given, the signed destination URL must equal it (a callable gets the
            event).
        clock_tolerance (float): seconds of clock skew accepted.
        max_body_bytes (int): larger bodies are refused (413).
        receiver (Receiver | None): the [`Receiver`][qstash_receiver.Receiver] to use; default:
            ``receiver_from_env()`` on the first request (environment variables as for
            ``verify_qstash``).
        dedupe (DedupeStore | None): a duplicate-delivery guard store, as for ``verify_qstash``;
            the route's ``Response`` counts as handled when its status is 2xx.
        metrics (Metrics | None), tracer (Tracer | None): Powertools' own, as for
            ``verify_qstash``: deliveries become EMF metrics and X-Ray subsegments.

    Raises:
        ValueError, TypeError: invalid options.
    """

    def __init__(
        self,
        *,
        metrics: Metrics | None = None,
        tracer: Tracer | None = None,
        **options: Unpack[OptionArgs],
    ) -> None:
        super().__init__()
        self._endpoint = endpoint(Options(**options), metrics, tracer)

    def handler(self, app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[Any]:
        """Verify, then call the next middleware or the route; or answer the rejection."""
        result = verify_event(app.current_event, self._endpoint)
        if isinstance(result, Answer):
            return _answer(result)
        app.context[MESSAGE_KEY] = result  # what app.append_context does (unannotated there)
        lease = remaining_seconds(getattr(app, "lambda_context", None))
        return self._endpoint.run(result, lambda: next_middleware(app), _RESPONDER, lease=lease)
