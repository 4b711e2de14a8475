"""`make demo`'s rows for aiohttp (a real server, deliveries through the stand-in), and for
Azure Functions and Upstash Workflow (their request objects, in the in-process part)."""

from __future__ import annotations

import shutil
from pathlib import Path

from qstash_demo import e2e, request_objects

ROOT = Path(__file__).resolve().parents[1]

NOT_VERIFYING_WORKFLOW = """
from flask import Flask
from upstash_workflow.flask import Serve

from qstash_receiver.publish import qstash_client

app = Flask(__name__)
serve = Serve(app)


@serve.route("/workflow", qstash_client=qstash_client())  # no receiver=: the SDK's default
def workflow(context):
    context.run("charge", lambda: "receipt")
"""


def test_the_azure_and_workflow_rows() -> None:
    rows = request_objects.run(ROOT)
    assert {(r.platform, r.region, r.case) for r in rows} == {
        (platform, region, case)
        for platform, cases in (
            ("azure", ("genuine", "tampered", "wrong-region-keys", "expired")),
            ("workflow", tuple(request_objects.WORKFLOW_CASES)),
        )
        for region in ("EU_CENTRAL_1", "US_EAST_1")
        for case in cases
    }
    assert [r for r in rows if not r.ok] == []
    assert not any("FAIL" in line for line in request_objects.table(rows))


def test_a_workflow_that_does_not_verify_fails_its_rows(tmp_path: Path) -> None:
    # Migration mode sets no QSTASH_CURRENT/NEXT_SIGNING_KEY: the SDK's own check is then off.
    shutil.copytree(ROOT / "samples" / "azure_functions", tmp_path / "samples" / "azure_functions")
    workflow = tmp_path / "samples" / "workflow_app" / "flask_app.py"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(NOT_VERIFYING_WORKFLOW)
    rows = request_objects.run(tmp_path)
    failed = {(r.platform, r.case) for r in rows if not r.ok}
    assert failed == {("workflow", "tampered"), ("workflow", "forged")}
    assert "<-- FAIL" in "\n".join(request_objects.table(rows))


def test_the_aiohttp_sample_end_to_end() -> None:
    outcomes, problems = e2e.run(ROOT, ["aiohttp"], say=lambda _: None)
    assert problems == []
    cells = {(o.path, o.region, o.case): (o.status, o.ok) for o in outcomes}
    assert len(cells) == 2 * 2 * 4  # two paths, two regions, genuine and three forgeries
    for (_path, _region, case), cell in cells.items():
        assert cell == ((200, True) if case == "genuine" else (401, True))
