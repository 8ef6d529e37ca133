"""Token and user routes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD


def test_password_for_token_then_me_then_revoke(app_client: TestClient) -> None:
    response = app_client.post(
        "/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD, "label": "ci"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"] == {
        "name": "admin",
        "role": "admin",
        "disabled": False,
        "created_at": body["user"]["created_at"],
    }
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert app_client.get("/api/me", headers=headers).json() == {
        "name": "admin",
        "role": "admin",
        "auth": "api",
    }
    assert app_client.delete("/api/auth/token", headers=headers).status_code == 204
    gone = app_client.get("/api/me", headers=headers)
    assert gone.status_code == 401
    assert gone.json()["error"]["code"] == "BAD_TOKEN"


def test_wrong_password_is_401(app_client: TestClient) -> None:
    response = app_client.post("/api/auth/token", json={"username": "admin", "password": "nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "BAD_CREDENTIALS"


def test_a_malformed_authorization_header_is_401(app_client: TestClient) -> None:
    for header in ("Bearer", "Basic YWRtaW46YWRtaW4=", "Bearer not-a-real-token"):
        response = app_client.get("/api/me", headers={"Authorization": header})
        assert response.status_code == 401, header


def test_admins_manage_users(app_client: TestClient, admin_headers: dict[str, str]) -> None:
    app_client.headers.update(admin_headers)
    created = app_client.post(
        "/api/users", json={"name": "bea", "password": "bea-password", "role": "viewer"}
    )
    assert created.status_code == 201
    assert created.json()["role"] == "viewer"
    assert (
        app_client.post(
            "/api/users", json={"name": "bea", "password": "bea-password", "role": "viewer"}
        ).status_code
        == 409
    )
    weak = app_client.post("/api/users", json={"name": "cy", "password": "x", "role": "viewer"})
    assert weak.status_code == 422
    assert weak.json()["error"]["detail"]["fields"][0]["field"] == "password"
    assert [u["name"] for u in app_client.get("/api/users").json()] == ["admin", "bea"]
    promoted = app_client.patch("/api/users/bea", json={"role": "operator"})
    assert promoted.json()["role"] == "operator"
    assert app_client.delete("/api/users/bea").json()["disabled"] is True
    assert app_client.get("/api/users/nobody").status_code == 404
    assert app_client.delete("/api/users/admin").status_code == 409
    refused = app_client.post(
        "/api/auth/token", json={"username": "bea", "password": "bea-password"}
    )
    assert refused.status_code == 401


def test_operators_cannot_manage_users(
    app_client: TestClient, operator_headers: dict[str, str]
) -> None:
    response = app_client.get("/api/users", headers=operator_headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "ROLE_REQUIRED"
