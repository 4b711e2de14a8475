"""The URL a Flask request was made to, as the signed ``sub`` has it (``url=request_url``)."""

from __future__ import annotations

from urllib.parse import quote

from qstash_receiver.integration import missing_extra

try:
    from flask import Request
except ModuleNotFoundError as error:
    raise missing_extra(error, "flask") from None

from qstash_receiver.names import PATH_SAFE

__all__ = ["request_target", "request_url"]


def request_target(request: Request) -> str:
    """The path and query string ``request`` was sent to, percent-encoding kept.

    The target as the client sent it (``RAW_URI`` / ``REQUEST_URI``, set by gunicorn, uWSGI,
    mod_wsgi and werkzeug), behind the app's root path: ``SCRIPT_NAME``, or under
    ``ProxyFix(x_prefix=...)`` the ``X-Forwarded-Prefix`` the proxy stripped. Without a raw
    target it is rebuilt from the decoded path (``%2F`` and the like then come back decoded).
    """
    environ = request.environ
    root = request.root_path.rstrip("/")
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    original = environ.get("werkzeug.proxy_fix.orig")
    served = original.get("SCRIPT_NAME") if isinstance(original, dict) else request.root_path
    served = (served or "").rstrip("/")  # the root the server itself saw, part of RAW_URI
    if isinstance(raw, str) and raw.startswith(served + "/"):
        return quote(root, safe=PATH_SAFE) + raw[len(served) :]
    target = quote(root + request.path, safe=PATH_SAFE)
    query = request.query_string.decode("latin-1")
    return f"{target}?{query}" if query else target


def request_url(request: Request) -> str:
    """The URL ``request`` was made to, for ``verify_qstash(url=request_url)``.

    Scheme and host as werkzeug sees them: behind a proxy, wrap the app in
    ``werkzeug.middleware.proxy_fix.ProxyFix`` with the proxy's ``X-Forwarded-Proto`` /
    ``-Host`` / ``-Port`` / ``-Prefix`` enabled, as for anything else that builds URLs; a
    default port is left out, and Flask's ``TRUSTED_HOSTS`` applies. Then
    [`request_target()`][qstash_receiver.adapters.flask.request_target].

    Raises:
        werkzeug.exceptions.SecurityError: the host is not in ``TRUSTED_HOSTS`` (Flask
            answers 400).
    """
    return f"{request.scheme}://{request.host}{request_target(request)}"
