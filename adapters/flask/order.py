"""Refuse ``@verify_qstash`` written above the route decorator, which would verify nothing.

Flask registers the function a route decorator is given; with ``@verify_qstash`` above
``@app.post(...)`` that is the bare view, so the route would run unverified while the code
reads as protected. When it is decorated, the view is looked for among the routes of the Flask
apps and blueprints its module (or enclosing function) holds, whatever name the decorator was
imported under; and the order is read from the view's source (an app out of reach, a
functions-framework function).
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from flask import Blueprint, Flask

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


def _caller() -> FrameType | None:
    """The first frame outside this package: where the view is being decorated."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("qstash_receiver"):
        frame = frame.f_back
    return frame


def _scaffolds(frame: FrameType) -> Iterator[Flask | Blueprint]:
    seen: set[int] = set()
    for value in (*frame.f_locals.values(), *frame.f_globals.values()):
        if isinstance(value, (Flask, Blueprint)) and id(value) not in seen:
            seen.add(id(value))
            yield value


def _routes(view: Callable[..., Any], scaffold: Flask | Blueprint) -> bool:
    """Whether ``scaffold`` has ``view`` as a route (a blueprint records it for later)."""
    if any(registered is view for registered in scaffold.view_functions.values()):
        return True
    deferred = scaffold.deferred_functions if isinstance(scaffold, Blueprint) else []
    cells = (cell for record in deferred for cell in record.__closure__ or ())
    return any(_holds(cell, view) for cell in cells)


def _holds(cell: Any, view: Callable[..., Any]) -> bool:
    try:
        return cell.cell_contents is view
    except ValueError:  # an empty cell
        return False


def refuse_wrong_order(view: Callable[..., Any], decorator: str = "verify_qstash") -> None:
    """Raise when ``view`` is already a route (``@verify_qstash`` above the route decorator).

    Raises:
        TypeError: the route decorator comes after (below) ``@verify_qstash``.
    """
    names = _decorators(view) or []
    below = names[names.index(decorator) + 1 :] if decorator in names else []
    registering = next((name for name in below if name in _REGISTERING), None)
    if registering is not None:
        raise TypeError(
            f"@{decorator} is above @...{registering}(...) on {view.__qualname__}: the route "
            f"was registered before it was verified and would run unverified. Put @{decorator} "
            f"below the route decorator (closest to the def)."
        )
    frame = _caller()
    try:
        routed = next((s for s in _scaffolds(frame) if _routes(view, s)), None) if frame else None
    finally:
        del frame
    if routed is not None:
        raise TypeError(
            f"{view.__qualname__} is already a route of {routed.name!r}, registered before "
            f"@{decorator} could verify it: it would run unverified. Put @{decorator} below the "
            f"route decorator (closest to the def)."
        )
