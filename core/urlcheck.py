"""What is said about the signed URL (``sub``) check: by ``doctor`` and the Django checks.

The check is off unless an endpoint passes ``url=``, as in the official SDKs; the wording
lives here so that every place that reports it says the same thing.
"""

from __future__ import annotations

__all__ = ["URL_CHECK_DOC", "doctor_line", "url_check_off"]

#: Where the trade-off is explained.
URL_CHECK_DOC = "docs/url-check.md"

_CONSEQUENCE = (
    "a genuine delivery signed for another endpoint of the same QStash account is accepted"
)


def url_check_off(unchecked: int | None = None, total: int | None = None) -> str:
    """The sentence saying that the signed URL is not checked (on ``unchecked`` of ``total``).

    Without counts it describes the default of every adapter.
    """
    if unchecked is None:
        return f"The signed URL is not checked unless an endpoint passes url=: {_CONSEQUENCE}."
    of = "" if total is None or total == unchecked else f" of {total}"
    views = "view" if unchecked == 1 and not of else "views"
    verb = "does" if unchecked == 1 else "do"
    return (
        f"{unchecked}{of} QStash {views} {verb} not check the signed URL (no url=): {_CONSEQUENCE}."
    )


def doctor_line() -> tuple[str, str]:
    """``(label, value)`` for ``qstash-receiver doctor``: the environment cannot turn it on."""
    return ("signed URL (sub) check", f"off unless the endpoint passes url= (see {URL_CHECK_DOC})")
