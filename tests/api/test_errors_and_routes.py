"""Every route: auth required (except the public few), one error shape, documented statuses."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

PUBLIC = {
    ("GET", "/api/health"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/api/auth/token"),  # exchanges a password for a token: that is its auth
    ("GET", "/"),  # only redirects to /devices, which needs a login
    ("POST", "/api/hooks/{secret}"),  # the secret in the URL authorizes it
}


def assert_error_shape(body: object) -> None:
    assert isinstance(body, dict)
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "retryable", "detail"}
    assert isinstance(error["code"], str)
    assert re.fullmatch(r"[A-Z][A-Z0-9_]+", error["code"])
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["retryable"], bool)
    assert isinstance(error["detail"], dict)


def all_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) the app serves: its own routes and those of its routers."""
    from labdeck.app import ROUTERS

    routes = [route for router in ROUTERS for route in router.routes]
    routes += [route for route in app.routes if isinstance(route, Route)]
    found = []
    for route in routes:
        if isinstance(route, Mount):
            continue
        if isinstance(route, APIRoute | Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    found.append((method, route.path))
    return sorted(set(found))


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_route_except_the_public_ones_needs_a_login(app_client: TestClient) -> None:
    routes = all_routes(app_client.app)
    assert len(routes) > 10
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        response = app_client.request(method, concrete(path), json={}, follow_redirects=False)
        if path.startswith("/api/"):
            assert response.status_code == 401, (method, path, response.status_code)
            assert_error_shape(response.json())
        else:
            assert response.status_code in (303, 401), (method, path, response.status_code)
            if response.status_code == 303:
                assert response.headers["location"].startswith("/login")


def test_public_routes_answer_without_a_login(app_client: TestClient) -> None:
    assert app_client.get("/api/health").json()["status"] == "ok"
    assert "paths" in app_client.get("/api/openapi.json").json()
    docs = app_client.get("/api/docs")
    assert docs.status_code == 200
    assert "/static/vendor/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()


def test_unknown_paths_methods_and_bad_json_use_the_error_shape(client: TestClient) -> None:
    missing = client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert_error_shape(missing.json())
    wrong_method = client.delete("/api/deck")
    assert wrong_method.status_code == 405
    assert_error_shape(wrong_method.json())
    bad_json = client.post(
        "/api/instruments/balance/weigh",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert bad_json.status_code == 422
    assert_error_shape(bad_json.json())
    assert bad_json.json()["error"]["code"] == "INVALID_JSON"
    wrong_body = client.post("/api/instruments/balance/weigh", json={"args": [1, 2]})
    assert wrong_body.status_code == 422
    assert_error_shape(wrong_body.json())
    assert wrong_body.json()["error"]["detail"]["fields"][0]["field"] == "args"


def test_an_unexpected_server_error_is_a_json_500_without_internals(
    services, admin_headers: dict[str, str]
) -> None:
    from labdeck.app import create_app

    app = create_app(services)

    @app.get("/api/explode")
    async def explode() -> None:
        raise RuntimeError("secret internal detail")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/explode", headers=admin_headers)
    assert response.status_code == 500
    assert_error_shape(response.json())
    assert "secret internal detail" not in response.text


def test_errors_of_every_api_route_have_the_shape(
    client: TestClient, viewer_headers: dict[str, str]
) -> None:
    """Drive each API route into an error it can produce and check the body."""
    for method, path in all_routes(client.app):
        if not path.startswith("/api/") or (method, path) in PUBLIC:
            continue
        response = client.request(
            method,
            concrete(path),
            json={"args": {"nope": 1}, "value": None},
            headers=viewer_headers,
        )
        if response.status_code >= 400:
            assert_error_shape(response.json())


def test_openapi_documents_the_error_statuses_of_every_route(app_client: TestClient) -> None:
    document = app_client.get("/api/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            public = (method.upper(), path) in PUBLIC
            if not public:
                assert {"401", "403"} <= statuses, (method, path)
            if "{" in path:
                assert "404" in statuses, (method, path)
            if "requestBody" in operation or operation.get("parameters"):
                assert "422" in statuses, (method, path)
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorResponse"), (method, path, status)


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Origin": "http://evil.example"}, False),
        ({"Origin": "null"}, False),
        ({"Sec-Fetch-Site": "cross-site"}, False),
        ({"Sec-Fetch-Site": "same-site"}, False),
        ({"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}, True),
        ({"Sec-Fetch-Site": "none"}, True),
        ({}, True),
    ],
)
def test_cross_origin_state_changes_are_refused(
    client: TestClient, headers: dict[str, str], allowed: bool
) -> None:
    response = client.post("/api/instruments/balance/weigh", json={"args": {}}, headers=headers)
    if allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "CROSS_ORIGIN"


def test_cross_origin_reads_are_not_blocked_by_the_guard(client: TestClient) -> None:
    assert client.get("/api/deck", headers={"Origin": "http://evil.example"}).status_code == 200


def test_trusted_origins_may_change_state(make_services, demo_deck, operator_headers) -> None:
    from labdeck.app import create_app

    services = make_services(demo_deck, trusted_origins=["https://lab.example.org"])
    services.auth.create_user("tess", "role-password-123", "operator")
    with TestClient(create_app(services)) as client:
        token = client.post(
            "/api/auth/token", json={"username": "tess", "password": "role-password-123"}
        ).json()["token"]
        response = client.post(
            "/api/instruments/balance/weigh",
            json={"args": {}},
            headers={"Origin": "https://lab.example.org", "Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200
