"""Sign deliveries exactly as QStash does, for tests of your own endpoints.

Example:

```python
from qstash_receiver.testing import signed_headers

headers = signed_headers(b'{"hello": "world"}', key="sig_...", url="https://x.test/hook")
response = client.post("/hook", data=b'{"hello": "world"}', headers=headers)
```
"""

from __future__ import annotations

from .demo_keys import DEMO_ENV, DEMO_KEYS
from .token import DEFAULT_LIFETIME, sign, signed_headers

__all__ = [
    "DEFAULT_LIFETIME",
    "DEMO_ENV",
    "DEMO_KEYS",
    "sign",
    "signed_headers",
]
