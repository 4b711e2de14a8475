"""Refuse ``@verify_qstash`` written above the route decorator, which would verify nothing.

Flask registers the function a route decorator is given; with ``@verify_qstash`` above
``@app.post(...)`` that is the bare view, so the route would run unverified while the code
reads as protected. The order is read from the view's source when it is decorated; a decorator
written under another name (``from ... import verify_qstash as vq``, or ``guarded =
verify_qstash(dedupe=store)``) is recognised by what the name stands for where it is applied.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

__all__ = ["refuse_wrong_order"]

# Decorators that register a view with its framework: Flask's app/blueprint ``route`` and
# its method shortcuts, and functions-framework's ``http``.
_REGISTERING = frozenset({"route", "get", "post", "put", "patch", "delete", "http"})


def _named(decorator: ast.expr) -> ast.expr:
    return decorator.func if isinstance(decorator, ast.Call) else decorator


def _name(decorator: ast.expr) -> str:
    target = _named(decorator)
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def _decorators(view: Callable[..., Any]) -> list[ast.expr] | None:
    try:
        source = textwrap.dedent(inspect.getsource(view))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):  # no source (a zipped app, a builtin): unknown
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node.decorator_list
    return None


def _ours(module: str) -> bool:
    return module == "qstash_receiver" or module.startswith("qstash_receiver.")


def _scope() -> Mapping[str, Any]:
    """The names where the view is being decorated: the first frame outside this package."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and _ours(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
    try:
        return {} if frame is None else {**frame.f_globals, **frame.f_locals}
    finally:
        del frame


def _is(
    decorator: ast.expr, name: str, ours: Callable[[object], bool], scope: Mapping[str, Any]
) -> bool:
    target = _named(decorator)
    if isinstance(target, ast.Name):  # the name, or another bound to it or to what it made
        return target.id == name or ours(scope.get(target.id))
    return isinstance(target, ast.Attribute) and target.attr == name


def refuse_wrong_order(view: Callable[..., Any], name: str, ours: Callable[[object], bool]) -> None:
    """Raise when ``view``'s source puts the decorator ``name`` (or any name bound to a value
    for which ``ours`` is true) above a registering decorator.

    Raises:
        TypeError: the route decorator comes after (below) that decorator.
    """
    listed = _decorators(view)
    if not listed:
        return
    scope = _scope()
    found = next((i for i, d in enumerate(listed) if _is(d, name, ours, scope)), None)
    if found is None:
        return
    registering = next((n for n in map(_name, listed[found + 1 :]) if n in _REGISTERING), None)
    if registering is not None:
        written = _name(listed[found])
        raise TypeError(
            f"@{written} is above @...{registering}(...) on {view.__qualname__}: the route "
            f"was registered before it was verified and would run unverified. Put @{written} "
            f"below the route decorator (closest to the def)."
        )
