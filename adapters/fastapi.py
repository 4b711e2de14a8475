"""FastAPI adapter: the verified message as a dependency.

::

    app = FastAPI()
    install(app)                               # rejections in text/plain, as every adapter

    @app.post("/qstash")
    async def hook(message: Annotated[VerifiedMessage, Depends(verified_message)]) -> dict:
        ...                                    # await request.body() gives the same bytes

    jobs = APIRouter(dependencies=[Depends(QStashVerifier(max_body_bytes=1 << 20))])

Without :func:`install`, FastAPI's own ``HTTPException`` handler answers rejections: the same
status and headers, the same text as JSON ``{"detail": ...}``. Rejections are handled
exceptions either way: FastAPI and uvicorn do not log them as server errors.
"""

# No "from __future__ import annotations": FastAPI reads the dependency's annotations at run
# time, from the callable itself (an instance has no module globals to resolve names in).
from typing import TYPE_CHECKING

from qstash_receiver.integration import missing_extra

try:
    from fastapi import FastAPI, HTTPException, Request, Response
except ModuleNotFoundError as error:
    raise missing_extra(error, "fastapi") from None

from qstash_receiver import ConfigError, QStashError, SignatureError, VerifiedMessage
from qstash_receiver.integration import Endpoint, Options, Rejection

from ._asgi import answer, default_receiver, get_message, request_url, verify_body

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from qstash_receiver.integration import OptionArgs

__all__ = ["verified_message", "QStashVerifier", "QStashRejected", "install"]
__all__ += ["rejection_handler", "get_message", "request_url"]
__all__ += ["VerifiedMessage", "QStashError", "SignatureError", "ConfigError"]


class QStashRejected(HTTPException):
    """Raised by the dependency for a delivery it refuses; ``rejection`` is the answer."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.status, rejection.text, dict(rejection.extra_headers) or None)
        self.rejection = rejection


async def rejection_handler(request: Request, exc: Exception) -> Response:
    """The exception handler :func:`install` registers: the rejection's ``text/plain`` answer.

    Raises:
        TypeError: ``exc`` is not a :class:`QStashRejected` (registered for another class).
    """
    if not isinstance(exc, QStashRejected):
        raise TypeError("rejection_handler handles QStashRejected only")
    return answer(exc.rejection)


def install(app: FastAPI) -> None:
    """Answer rejections exactly as every other adapter does (``text/plain``, fixed text).

    The same as ``FastAPI(exception_handlers={QStashRejected: rejection_handler})``.
    """
    app.add_exception_handler(QStashRejected, rejection_handler)


class QStashVerifier:
    """A dependency verifying the request and returning its :class:`VerifiedMessage`.

    ``Depends(QStashVerifier(...))`` in a path operation's parameters (sync or async) or in
    ``dependencies=[...]`` of a route, router or app (there, :func:`get_message` gives the
    message). It reads the body once, under the limit; the route's own body parameters and
    ``await request.body()`` see the same bytes, and the OpenAPI schema gains no body.
    Without body parameters the limit holds while the body streams; with them FastAPI reads
    the body before any dependency runs (bound that read with ``max_body_size=``).

    Keyword Args:
        url (UrlOption): the signed destination URL must equal it; a callable gets the
            ``Request`` (e.g. :func:`request_url`). Default: no URL check.
        clock_tolerance (float): seconds of clock skew accepted.
        max_body_bytes (int): larger bodies (declared or streamed) are refused with 413.
        receiver (Receiver | None): default: one reading the environment on the first request
            (``QSTASH_REGION``, ``[REGION_]QSTASH_CURRENT/NEXT_SIGNING_KEY``, ``QSTASH_DEV``).

    Raises:
        ValueError, TypeError: invalid options. Per request: :class:`QStashRejected` (401,
            413 or 500), answered by FastAPI.
    """

    def __init__(self, **options: "Unpack[OptionArgs]") -> None:
        self._endpoint = Endpoint(Options(**options), default_receiver)

    async def __call__(self, request: Request) -> VerifiedMessage:
        result = await verify_body(request, self._endpoint)
        if isinstance(result, Rejection):
            raise QStashRejected(result)
        return result


#: The dependency with the default options: ``Depends(verified_message)``.
verified_message = QStashVerifier()
