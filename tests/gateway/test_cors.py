"""--allow-origin: CORS headers, token-free preflights, and the WebSocket Origin check."""

import asyncio
import uuid

import pytest
import websockets

from conftest import TOKEN, Gateway

ALLOWED = "https://lab.example"
OTHER = "http://localhost:3000"


@pytest.fixture(scope="module")
def listed():
    g = Gateway("--allow-origin", f"{ALLOWED}, {OTHER}")
    yield g
    g.stop()


@pytest.fixture(scope="module")
def anyone():
    g = Gateway("--allow-origin", "*")
    yield g
    g.stop()


def preflight(gateway, origin, path="/api/kernels"):
    return gateway.request("OPTIONS", path, token=None, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})


def test_preflight_needs_no_token_and_lists_what_is_allowed(listed):
    status, _, headers = preflight(listed, ALLOWED)
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert "DELETE" in headers["Access-Control-Allow-Methods"]
    allowed_headers = headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in headers["Vary"]
    status, _, headers = preflight(listed, OTHER, "/api/kernels/x/restart")
    assert status == 204 and headers["Access-Control-Allow-Origin"] == OTHER


def test_a_listed_origin_is_echoed_on_responses(listed):
    status, _, headers = listed.request("GET", "/api/kernelspecs", headers={"Origin": OTHER})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == OTHER
    assert "Origin" in headers["Vary"]
    # Errors too: the page must be able to read why it failed.
    status, _, headers = listed.request("GET", "/api/kernels", token="wrong",
                                        headers={"Origin": ALLOWED})
    assert status == 403 and headers["Access-Control-Allow-Origin"] == ALLOWED


def test_an_unlisted_origin_gets_no_allow_origin(listed):
    status, _, headers = preflight(listed, "https://evil.example")
    assert status == 204
    assert "Access-Control-Allow-Origin" not in headers
    assert "Access-Control-Allow-Methods" not in headers
    status, _, headers = listed.request("GET", "/api/kernelspecs",
                                        headers={"Origin": "https://evil.example"})
    assert status == 200  # the browser, not the server, withholds the body from the page
    assert "Access-Control-Allow-Origin" not in headers
    assert "Origin" in headers["Vary"]


def test_star_allows_any_origin(anyone):
    status, _, headers = preflight(anyone, "https://whoever.example")
    assert status == 204 and headers["Access-Control-Allow-Origin"] == "*"
    status, _, headers = anyone.request("GET", "/api", headers={"Origin": "https://x.example"})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"


def test_no_cors_headers_without_the_option(gateway):
    status, _, headers = gateway.request("GET", "/api", headers={"Origin": ALLOWED})
    assert status == 200
    assert "Access-Control-Allow-Origin" not in headers
    assert preflight(gateway, ALLOWED)[0] == 204


def connect(gateway, kernel_id, origin):
    url = (f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels"
           f"?session_id={uuid.uuid4().hex}&token={TOKEN}")
    return websockets.connect(url, origin=origin)


@pytest.mark.parametrize("fixture,origin,accepted", [
    ("listed", ALLOWED, True),
    ("listed", None, True),  # not a browser
    ("listed", "https://evil.example", False),
    ("anyone", "https://evil.example", True),
    ("gateway", "https://evil.example", False),  # no --allow-origin: the same origin only
    ("gateway", None, True),
])
def test_websocket_origin_check(request, fixture, origin, accepted):
    gateway = request.getfixturevalue(fixture)
    status, model, _ = gateway.request("POST", "/api/kernels", {})
    assert status == 201

    async def scenario():
        if accepted:
            async with connect(gateway, model["id"], origin) as ws:
                await ws.ping()
        else:
            with pytest.raises(websockets.exceptions.InvalidStatusCode) as refused:
                async with connect(gateway, model["id"], origin):
                    pass
            assert refused.value.status_code == 403

    try:
        asyncio.run(scenario())
    finally:
        gateway.request("DELETE", f"/api/kernels/{model['id']}")


def test_the_servers_own_origin_may_open_websockets(listed):
    status, model, _ = listed.request("POST", "/api/kernels", {})
    assert status == 201

    async def scenario():
        async with connect(listed, model["id"], f"http://127.0.0.1:{listed.port}") as ws:
            await ws.ping()

    asyncio.run(scenario())
    listed.request("DELETE", f"/api/kernels/{model['id']}")
