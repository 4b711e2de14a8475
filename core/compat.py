"""A drop-in for code written against the official SDK's ``qstash.Receiver``.


```python
from qstash_receiver.compat import Receiver      # was: from qstash import Receiver
```

Verification failures raised here are instances of ``qstash.errors.SignatureError`` as well as of
[`qstash_receiver.SignatureError`][qstash_receiver.SignatureError] (with its ``.reason``), so
existing ``except qstash.errors.SignatureError`` clauses keep answering 401. Needs the ``qstash``
package (which such code already has); the plain
[`qstash_receiver.Receiver`][qstash_receiver.Receiver] does not import it.
"""

from __future__ import annotations

from .errors import SignatureError
from .message import VerifiedMessage
from .token import Body
from .verify import Receiver as _Receiver

try:
    from qstash.errors import SignatureError as _SdkSignatureError
except ModuleNotFoundError as error:  # pragma: no cover - qstash is a test dependency
    raise ModuleNotFoundError(
        'qstash_receiver.compat is for code written against qstash: pip install "qstash"',
        name=error.name,
    ) from None

__all__ = ["Receiver"]


_TWINS: dict[type[SignatureError], type[SignatureError]] = {}


def _twin(kind: type[SignatureError]) -> type[SignatureError]:
    # One class per reason, deriving from ours and from the SDK's: both excepts match.
    twin = _TWINS.get(kind)
    if twin is None:
        twin = type(kind.__name__, (kind, _SdkSignatureError), {"__module__": __name__})
        _TWINS[kind] = twin
    return twin


class Receiver(_Receiver):
    """[`qstash_receiver.Receiver`][qstash_receiver.Receiver] whose failures also match the SDK's
    ``SignatureError``.

    Raises:
        SignatureError: also an instance of ``qstash.errors.SignatureError``.
        ConfigError: as [`qstash_receiver.Receiver.verify()`][qstash_receiver.Receiver.verify].
    """

    __slots__ = ()

    def verify(
        self,
        *,
        signature: str,
        body: Body,
        url: str | None = None,
        clock_tolerance: float = 0,
        upstash_region: str | None = None,
    ) -> VerifiedMessage:
        """Verify one delivery, as
        [`qstash_receiver.Receiver.verify()`][qstash_receiver.Receiver.verify]."""
        try:
            return super().verify(
                signature=signature,
                body=body,
                url=url,
                clock_tolerance=clock_tolerance,
                upstash_region=upstash_region,
            )
        except SignatureError as error:
            twin = _twin(type(error))()
            twin.args = error.args
            twin.claim = error.claim
            raise twin from None
