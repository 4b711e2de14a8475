"""Refuse ``@verify_qstash`` written above the route decorator, which would verify nothing.

Flask registers the function a route decorator is given; with ``@verify_qstash`` above
``@app.post(...)`` that is the bare view, so the route would run unverified while the code
reads as protected. The order is read from the view's source when it is decorated.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

__all__ = ["refuse_wrong_order"]

# Decorators that register a view with its framework: Flask's app/blueprint ``route`` and
# its method shortcuts, and functions-framework's ``http``.
_REGISTERING = frozenset({"route", "get", "post", "put", "patch", "delete", "http"})


def _name(decorator: ast.expr) -> str:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def _decorators(view: Callable[..., Any]) -> list[str] | None:
    try:
        source = textwrap.dedent(inspect.getsource(view))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):  # no source (a zipped app, a builtin): unknown
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return [_name(decorator) for decorator in node.decorator_list]
    return None


def refuse_wrong_order(view: Callable[..., Any], decorator: str = "verify_qstash") -> None:
    """Raise when ``view``'s source puts ``@verify_qstash`` above a registering decorator.

    Raises:
        TypeError: the route decorator comes after (below) ``@verify_qstash``.
    """
    names = _decorators(view)
    if not names or decorator not in names:
        return
    below = names[names.index(decorator) + 1 :]
    registering = next((name for name in below if name in _REGISTERING), None)
    if registering is not None:
        raise TypeError(
            f"@{decorator} is above @...{registering}(...) on {view.__qualname__}: the route "
            f"was registered before it was verified and would run unverified. Put @{decorator} "
            f"below the route decorator (closest to the def)."
        )
