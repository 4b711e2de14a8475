"""pytest fixtures for tests of your own QStash endpoints: ``qstash_env`` and ``qstash_signer``.

Installing qstash-receiver registers this plugin with pytest (entry point ``pytest11``, name
``qstash_receiver``): the fixtures are there in every test, with no conftest and no ``-p``.
Nothing happens in a test that requests neither (``-p no:qstash_receiver`` turns the plugin
off). pytest imports this module; the package itself never does.

Example:

```python
from myapp import app  # reads the environment on its first delivery

def test_order_created(qstash_signer):
    body = b'{"order_id": 4217}'
    headers = qstash_signer.headers(body, url="http://localhost/api/qstash")
    response = app.test_client().post("/api/qstash", data=body, headers=headers)
    assert response.status_code == 200
```

Receivers read the environment once, on their first delivery, and keep what they read.
``qstash_env`` resets the default receivers of the FastAPI, Starlette and Django adapters
before and after each test. A Flask view (or the Flask ``QStash`` extension) keeps the
receiver it built on its first delivery: request ``qstash_env`` in every test that sends to a
Flask app, or create the app per test.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping

import pytest

from .names import (
    CLOUD_RUNTIME_MARKERS,
    QSTASH_CURRENT_SIGNING_KEY,
    QSTASH_REGION,
    REGIONS,
    Region,
    normalize_region,
    regional,
)
from .secret import Secret, mask
from .testing import DEMO_ENV, signed_headers
from .token import Body

__all__ = ["QStashSigner", "qstash_env", "qstash_signer"]

# Modules whose ``default_receiver`` (a Receiver reading its source on first use) is shared by
# every app of the process.
# The plugin is imported by every pytest session where the package is installed: it imports
# no more of the package than the signer needs.
_DEFAULT_RECEIVER_MODULES = (
    "qstash_receiver.adapters._asgi",  # FastAPI and Starlette
    "qstash_receiver.adapters.django.settings",
    "qstash_receiver.adapters.flask.verification",  # Flask views of apps without QStash(app)
)
_PREFIXES = ("QSTASH_", *(f"{region}_QSTASH_" for region in REGIONS))
_SECRET_SUFFIXES = ("_SIGNING_KEY", "_TOKEN")


class _Environment(Mapping[str, str]):
    """The variables ``qstash_env`` set; keys and tokens masked in its ``repr``."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        shown = {
            name: mask(value) if name.endswith(_SECRET_SUFFIXES) else value
            for name, value in self._values.items()
        }
        return f"qstash_env({shown!r})"


class QStashSigner:
    """Signs deliveries as QStash would, with the current signing key of each region in ``env``.

    The ``qstash_signer`` fixture is one built from ``qstash_env``, so that what it signs is
    what a ``Receiver()`` reading the environment accepts.

    Args:
        env: a migration-mode environment: ``QSTASH_REGION`` (the primary region) and
            ``{REGION}_QSTASH_CURRENT_SIGNING_KEY`` for each region to sign as.

    Raises:
        ValueError: ``QSTASH_REGION`` in ``env`` is missing or names no region.

    Example:

    ```python
    def test_hook(client, qstash_signer):
        body = b'{"order_id": 4217}'
        url = "http://testserver/hook"
        headers = qstash_signer.headers(body, url=url)
        assert client.post("/hook", content=body, headers=headers).status_code == 200

        # Signed with the EU key but claiming the US region: refused (invalid_signature).
        forged = qstash_signer.headers(body, url=url, region="EU_CENTRAL_1")
        forged["Upstash-Region"] = "US-EAST-1"
        assert client.post("/hook", content=body, headers=forged).status_code == 401
    ```
    """

    __slots__ = ("_keys", "_primary")

    def __init__(self, env: Mapping[str, str]) -> None:
        primary = normalize_region(env.get(QSTASH_REGION))
        if primary is None:
            raise ValueError("QStashSigner needs QSTASH_REGION naming a region (migration mode)")
        self._primary: Region = primary
        self._keys = {
            region: Secret(key)
            for region in REGIONS
            if (key := env.get(regional(region, QSTASH_CURRENT_SIGNING_KEY)))
        }

    @property
    def primary_region(self) -> Region:
        """The region signed as when
        [`headers()`][qstash_receiver.pytest_plugin.QStashSigner.headers] is given none
        (``QSTASH_REGION``)."""
        return self._primary

    def headers(
        self,
        body: Body,
        *,
        url: str,
        region: str | None = None,
        message_id: str | None = None,
        retried: int = 0,
    ) -> dict[str, str]:
        """The headers QStash sends with a delivery of ``body`` to ``url``.

        ``Upstash-Signature`` (a token signed with the region's current key, valid for 5 minutes),
        ``Upstash-Region``, ``Upstash-Message-Id``, ``Upstash-Retried`` and ``User-Agent:
        Upstash-QStash``, as
        [`qstash_receiver.testing.signed_headers()`][qstash_receiver.testing.signed_headers] makes
        them. QStash forwards the publisher's ``Content-Type``; add it yourself when the endpoint
        reads one.

        Args:
            body: the raw body the signature covers (``str`` is signed as UTF-8).
            url: the destination URL, signed as ``sub``: what an endpoint with a URL check
                (``url=``) compares with the URL it was called at.
            region: the region to sign as, in any spelling (``US_EAST_1``, ``us-east-1``); default:
                the primary region
                ([`primary_region`][qstash_receiver.pytest_plugin.QStashSigner.primary_region]).
            message_id: the ``Upstash-Message-Id`` (default: a new ``msg_...`` id).
            retried: the ``Upstash-Retried`` count (0 on the first delivery).

        Raises:
            ValueError: ``region`` names no region, or the environment has no current
                signing key for it.
        """
        chosen = self._primary if region is None else normalize_region(region)
        if chosen is None:
            raise ValueError(f"unknown QStash region {region!r} (EU_CENTRAL_1 or US_EAST_1)")
        key = self._keys.get(chosen)
        if key is None:
            raise ValueError(f"no {regional(chosen, QSTASH_CURRENT_SIGNING_KEY)} to sign with")
        return signed_headers(
            body,
            key=key.reveal(),
            url=url,
            region=chosen,
            message_id=message_id,
            retried=retried,
        )

    def __repr__(self) -> str:
        return f"QStashSigner(primary_region={self._primary!r}, regions={sorted(self._keys)!r})"


def _reset_default_receivers() -> None:
    # Only adapters already imported can hold a receiver: nothing is imported here (nor is
    # qstash_receiver.verify: Receiver.reset() is all that is needed).
    for name in _DEFAULT_RECEIVER_MODULES:
        reset = getattr(getattr(sys.modules.get(name), "default_receiver", None), "reset", None)
        if callable(reset):
            reset()


@pytest.fixture
def qstash_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mapping[str, str]]:
    """A migration-mode environment with demo keys, in ``os.environ`` for this test.

    [`qstash_receiver.testing.DEMO_ENV`][qstash_receiver.testing.DEMO_ENV]:
    ``QSTASH_REGION=US_EAST_1`` and both regions' signing keys, tokens and URLs (made up, never
    valid on QStash). Every other ``QSTASH_*`` and ``{REGION}_QSTASH_*`` variable (``QSTASH_DEV``,
    the default key pair, ...) is removed, and so are ``AWS_LAMBDA_FUNCTION_NAME`` and
    ``K_SERVICE``, under which the demo keys are refused. All of it is undone after the test
    (``monkeypatch``).

    The default receivers of the FastAPI, Starlette and Django adapters are reset before and
    after the test, so they read this environment. Flask views read it on their first
    delivery and keep it; settings (Flask's ``app.config``, Django's ``settings``) still
    take precedence over the environment.

    Yields:
        The variables set, read-only (``Receiver(config=load_config(qstash_env))`` works).

    Example:

    ```python
    def test_receiver_reads_the_environment(qstash_env, qstash_signer):
        headers = qstash_signer.headers(b"hi", url="https://example.com/hook")
        message = Receiver().verify(
            signature=headers["Upstash-Signature"], body=b"hi",
            upstash_region=headers["Upstash-Region"],
        )
        assert message.key_region == qstash_env["QSTASH_REGION"]
    ```
    """
    for name in list(os.environ):
        if name.startswith(_PREFIXES) or name in CLOUD_RUNTIME_MARKERS:
            monkeypatch.delenv(name)
    for name, value in DEMO_ENV.items():
        monkeypatch.setenv(name, value)
    _reset_default_receivers()
    yield _Environment(DEMO_ENV)
    _reset_default_receivers()  # before monkeypatch restores the environment


@pytest.fixture
def qstash_signer(qstash_env: Mapping[str, str]) -> QStashSigner:
    """A [`QStashSigner`][qstash_receiver.pytest_plugin.QStashSigner] with the keys of
    ``qstash_env`` (which it requests).

    Example:

    ```python
    def test_hook(client, qstash_signer):
        body = b'{"order_id": 4217}'
        url = "http://testserver/hook"
        headers = qstash_signer.headers(body, url=url, region="eu-central-1")
        assert client.post("/hook", content=body, headers=headers).status_code == 200
    ```
    """
    return QStashSigner(qstash_env)
