"""Part 1 of ``make demo``, continued: Azure Functions and Upstash Workflow through their own
request objects, in one process (no Functions host or workflow server runs here).

Azure Functions: the sample function app (``samples/azure_functions/function_app.py``), its
functions as the Python worker indexes them (``app.get_functions()``), called by keyword with
real ``azure.functions.HttpRequest`` objects. Upstash Workflow: the Flask workflow sample
(``samples/workflow_app/flask_app.py``) through upstash-workflow's own Flask serve path; its
calls back to QStash go to a loopback stand-in of those calls (:mod:`.workflow_api`). Both run
in migration mode with the demo keys, set in the environment for the run only.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from qstash_receiver import names as E
from qstash_receiver.names import Region
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

from .cases import FORGED, forge, other_region
from .workflow_api import WorkflowApi, workflow_api

__all__ = ["Row", "run", "table"]

AZURE_URL = "https://qstash-demo.azurewebsites.net/api/qstash"
WORKFLOW_URL = "http://localhost/workflow"  # what Flask's test client calls
#: Workflow cases: the SDK gives the receiver no region, so the other region's keys verify too.
WORKFLOW_CASES = {"genuine": 200, "other-region-keys": 200, "tampered": 500, "forged": 500}


@dataclass(frozen=True)
class Row:
    """One case on one platform, and what happened."""

    platform: str
    region: Region
    case: str
    expected: int
    status: int
    ok: bool
    detail: str


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _quiet_logging() -> Iterator[None]:
    # The workflow SDK logs every refusal with a traceback: not for the demo's table.
    sdk = logging.getLogger("upstash_workflow")
    level = sdk.level
    sdk.setLevel(logging.CRITICAL + 1)  # its modules' loggers inherit this level
    try:
        yield
    finally:
        sdk.setLevel(level)


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        spec.loader.exec_module(module)
    finally:  # a sample configures logging for its server: undone here
        root.handlers[:] = handlers
        root.setLevel(level)
    return module


def _azure(root: Path) -> list[Row]:
    import azure.functions as func

    from qstash_receiver.adapters.azure_functions import default_receiver

    default_receiver.reset()  # the environment of this run, read on the first request
    try:
        app = _load(
            root / "samples" / "azure_functions" / "function_app.py", "demo_function_app"
        ).app
        function = {f.get_function_name(): f for f in app.get_functions()}["qstash"]
        handler = function.get_user_function()
        rows = []
        for region in E.REGIONS:
            for case in ("genuine", *FORGED):
                headers, body = forge(case, AZURE_URL, region)
                req = func.HttpRequest("POST", AZURE_URL, headers=headers, body=body)
                answer = handler(req=req)  # as the worker calls it: the binding by name
                text = answer.get_body().decode()
                if case == "genuine":
                    seen: Any = json.loads(text) if answer.status_code == 200 else {}
                    ok = answer.status_code == 200 and seen.get("key_region") == region
                    detail = f"handled, {seen.get('key_region')} keys" if ok else text[:60]
                    rows.append(Row("azure", region, case, 200, answer.status_code, ok, detail))
                else:
                    ok = (answer.status_code, text) == (401, f"401 Unauthorized: {FORGED[case]}")
                    rows.append(Row("azure", region, case, 401, answer.status_code, ok, text[:60]))
        return rows
    finally:
        default_receiver.reset()


def _workflow_request(case: str, region: Region) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"order_id": 4217, "region": region}).encode()
    key = {
        "genuine": DEMO_KEYS[region][0],
        "other-region-keys": DEMO_KEYS[other_region(region)][0],
        "tampered": DEMO_KEYS[region][0],
        "forged": "sig_notAKeyOfAnyRegion000000000000",
    }[case]
    headers = signed_headers(body, key=key, url=WORKFLOW_URL, region=region)
    return headers, (body + b" " if case == "tampered" else body)


def _workflow(root: Path, api: WorkflowApi) -> list[Row]:
    sample = _load(root / "samples" / "workflow_app" / "flask_app.py", "demo_workflow_app")
    client = sample.app.test_client()
    rows = []
    for region in E.REGIONS:
        for case, expected in WORKFLOW_CASES.items():
            api.clear()
            headers, body = _workflow_request(case, region)
            answer = client.post("/workflow", data=body, headers=headers)
            started = [(c.method, c.path) for c in api.calls] == [("POST", "/v2/batch")]
            if expected == 200:
                ok = answer.status_code == 200 and started
                detail = "run started (QStash called back)" if ok else answer.get_data()[:60]
            else:
                ok = answer.status_code == 500 and not api.calls
                detail = "refused before the workflow ran" if ok else "ran or called QStash"
            rows.append(
                Row("workflow", region, case, expected, answer.status_code, ok, str(detail))
            )
    return rows


def run(root: Path) -> list[Row]:
    """Both platforms' rows, for the samples under ``root``."""
    with (
        workflow_api() as api,
        _environment({**DEMO_ENV, "US_EAST_1_QSTASH_URL": api.url}),
        _quiet_logging(),
    ):
        return _azure(root) + _workflow(root, api)


def table(rows: list[Row]) -> list[str]:
    """The rows as the demo prints them."""
    # "stack", not "platform": the heading of part 2's table, which readers look for.
    lines = [f"{'stack':<9} {'region':<13} {'case':<18} expected  got  detail"]
    for row in rows:
        mark = "" if row.ok else "   <-- FAIL"
        lines.append(
            f"{row.platform:<9} {row.region:<13} {row.case:<18} {row.expected:<9} "
            f"{row.status:<4} {row.detail}{mark}"
        )
    return lines
