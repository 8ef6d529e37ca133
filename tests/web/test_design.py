"""The Design pages through the real app: the Library, the designer shell and its fragments."""

from __future__ import annotations

import copy
import json
import re
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labdeck.services import Services
from labdeck.web.design import diff_lines
from tests.conftest import ADMIN_PASSWORD, ROLE_PASSWORD
from tests.workflow.examples import DEMO_WORKFLOW


def login(client: TestClient, username: str, password: str) -> None:
    response = client.post(
        "/login",
        data={"username": username, "password": password, "next": "/design"},
        follow_redirects=False,
    )
    assert response.status_code == 303


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def boot_of(html: str) -> dict[str, Any]:
    found = re.search(
        r'<script type="application/json" id="designer-boot">(.*?)</script>', html, re.S
    )
    assert found is not None
    parsed: dict[str, Any] = json.loads(found.group(1))
    return parsed


@pytest.fixture
def admin_client(app_client: TestClient) -> TestClient:
    login(app_client, "admin", ADMIN_PASSWORD)
    return app_client


@pytest.fixture
def viewer_client(app_client: TestClient, services: Services) -> TestClient:
    services.auth.create_user("victor", ROLE_PASSWORD, "viewer")
    login(app_client, "victor", ROLE_PASSWORD)
    return app_client


def create(services: Services, **changes: Any) -> int:
    document = copy.deepcopy(DEMO_WORKFLOW) | changes
    return services.workflows.create(document, user="admin").record.id


def test_pages_need_a_signed_in_user(app_client: TestClient) -> None:
    for path in ("/design", "/design/1", "/design/1/versions", "/design/1/diff"):
        response = app_client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")


def test_the_nav_links_to_design(admin_client: TestClient) -> None:
    page = admin_client.get("/devices").text
    assert '<a href="/design"' in page


def test_library_lists_searches_and_filters(admin_client: TestClient, services: Services) -> None:
    create(services)
    create(services, name="wash-plate", description="Rinse every well", tags=["cleaning"])
    archived = create(services, name="old-method", tags=[])
    services.workflows.archive(str(archived))

    page = text_of(admin_client.get("/design").text)
    assert "dose-and-measure" in page
    assert "wash-plate" in page
    assert "old-method" not in page
    assert "not yet" in page  # nothing is published

    found = text_of(admin_client.get("/design", params={"q": "rinse"}).text)
    assert "wash-plate" in found
    assert "dose-and-measure" not in found
    tagged = text_of(admin_client.get("/design", params={"tag": "screening"}).text)
    assert "dose-and-measure" in tagged
    assert "wash-plate" not in tagged
    gone = text_of(admin_client.get("/design", params={"status": "archived"}).text)
    assert "old-method" in gone
    assert "Restore" in gone
    nothing = text_of(admin_client.get("/design", params={"q": "zzz"}).text)
    assert "No workflow matches these filters." in nothing


def test_new_duplicate_archive_and_restore_from_the_library(
    admin_client: TestClient, services: Services
) -> None:
    made = admin_client.post("/design/new", data={"name": "my first"}, follow_redirects=False)
    assert made.status_code == 303
    ref = made.headers["location"].rsplit("/", 1)[-1]
    assert services.workflows.get(ref).record.name == "my first"

    again = admin_client.post("/design/new", data={"name": "my first"}, follow_redirects=False)
    assert "error=" in again.headers["location"]
    assert "already exists" in text_of(admin_client.get(again.headers["location"]).text)

    copied = admin_client.post(
        f"/design/{ref}/duplicate", data={"name": "my second"}, follow_redirects=False
    )
    assert copied.status_code == 303
    assert services.workflows.get("my second").record.draft["name"] == "my second"

    admin_client.post(f"/design/{ref}/archive")
    assert services.workflows.get(ref).record.status == "archived"
    admin_client.post(f"/design/{ref}/restore")
    assert services.workflows.get(ref).record.status == "active"


def test_import_from_the_library(admin_client: TestClient, services: Services) -> None:
    pytest.importorskip("labdeck.workflow.import_python", reason="importers not written yet")
    source = json.dumps(DEMO_WORKFLOW | {"name": "imported one"})
    response = admin_client.post("/design/import", data={"source": source}, follow_redirects=False)
    assert response.status_code == 303
    assert services.workflows.get("imported one").record.draft["script"][0]["id"] == "dose"
    bad = admin_client.post("/design/import", data={"source": "{nope"}, follow_redirects=False)
    assert "error=" in bad.headers["location"]


def test_viewers_see_the_library_without_edit_controls(
    viewer_client: TestClient, services: Services
) -> None:
    ref = create(services)
    page = viewer_client.get("/design").text
    assert "dose-and-measure" in page
    assert 'action="/design/new"' not in page
    designer = viewer_client.get(f"/design/{ref}").text
    assert boot_of(designer)["can_edit"] is False
    assert 'id="btn-publish"' not in designer
    refused = viewer_client.post("/design/new", data={"name": "x"}, follow_redirects=False)
    assert "error=" in refused.headers["location"]


def test_designer_page_embeds_the_draft_and_the_deck(
    admin_client: TestClient, services: Services
) -> None:
    ref = create(services)
    response = admin_client.get(f"/design/{ref}")
    assert response.status_code == 200
    boot = boot_of(response.text)
    assert boot["draft"] == services.workflows.get(str(ref)).record.draft
    assert boot["problems"] == []
    assert boot["can_edit"] is True
    assert "balance" in boot["deck"]["instruments"]
    page = text_of(response.text)
    assert "Not published yet" in page
    assert 'data-target="balance.dose_solid"' in response.text
    assert admin_client.get("/design/no-such-workflow").status_code == 404


def test_the_boot_json_cannot_close_its_script_tag(
    admin_client: TestClient, services: Services
) -> None:
    ref = create(services, description="</script><script>alert(1)</script>")
    html = admin_client.get(f"/design/{ref}").text
    assert "<script>alert(1)" not in html
    assert boot_of(html)["draft"]["description"].startswith("</script>")


def test_versions_and_their_diff(admin_client: TestClient, services: Services) -> None:
    ref = str(create(services))
    empty = text_of(admin_client.get(f"/design/{ref}/versions").text)
    assert "No versions yet" in empty
    services.workflows.publish(ref, user="admin")
    changed = copy.deepcopy(DEMO_WORKFLOW)
    changed["script"][2]["args"] = {"integration_ms": 500}
    services.workflows.update_draft(ref, changed, user="admin")
    services.workflows.publish(ref, user="admin")

    listed = text_of(admin_client.get(f"/design/{ref}/versions").text)
    assert "version 2" in listed
    assert "version 1" in listed
    assert "in use" in listed

    diff = admin_client.get(f"/design/{ref}/diff", params={"old": "1", "new": "2", "view": "json"})
    assert diff.status_code == 200
    assert re.search(r'diff-added">\+ .*integration_ms', diff.text)
    same = text_of(
        admin_client.get(f"/design/{ref}/diff", params={"old": "2", "new": "draft"}).text
    )
    assert "are the same" in same
    python = admin_client.get(f"/design/{ref}/diff", params={"old": "1", "new": "2"}).text
    assert "500" in python
    missing = text_of(admin_client.get(f"/design/{ref}/diff", params={"old": "9"}).text)
    assert "no version 9" in missing


def test_diff_lines_marks_added_removed_and_gaps() -> None:
    old = "\n".join(f"line {i}" for i in range(20))
    new = old.replace("line 3", "line three").replace("line 17", "line seventeen")
    lines = diff_lines(old, new, context=1)
    kinds = [line.kind for line in lines]
    assert kinds.count("gap") == 2
    assert [line.text for line in lines if line.kind == "added"] == ["line three", "line seventeen"]
    assert [line.text for line in lines if line.kind == "removed"] == ["line 3", "line 17"]
    assert diff_lines("same", "same") == []


def test_the_designer_says_which_steps_a_deck_change_broke(make_services, tmp_path) -> None:
    import textwrap
    import uuid

    from fastapi.testclient import TestClient

    from labdeck.app import create_app
    from labdeck.deck.introspect import introspect_deck
    from labdeck.deck.load import load_deck_module
    from tests.conftest import bearer_for

    def deck(method: str):
        path = tmp_path / f"drift_{uuid.uuid4().hex[:8]}.py"
        path.write_text(
            textwrap.dedent(f"""
            class Pump:
                def {method}(self, volume_ml: float) -> float:
                    return volume_ml

            pump = Pump()
        """)
        )
        return introspect_deck(load_deck_module(str(path)), name="bench")

    document = {
        "format": "labdeck.workflow/1",
        "name": "pump once",
        "script": [
            {"id": "go", "kind": "call", "target": "pump.dispense", "args": {"volume_ml": 1}}
        ],
    }
    before = make_services(deck("dispense"))
    before.workflows.create(document, user="olga")
    before.workflows.publish("pump once", user="olga")
    with TestClient(create_app(before)) as client:
        html = client.get("/design/pump once", headers=bearer_for(before, "olga", "operator")).text
    assert 'id="drift"' not in html

    after = make_services(deck("deliver"))
    with TestClient(create_app(after)) as client:
        html = client.get("/design/pump once", headers=bearer_for(after, "admin", "admin")).text
    assert 'id="drift"' in html
    assert "changed since version 1 was published" in html
    assert "<code>go</code>" in html
