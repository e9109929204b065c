"""Attacks by one tenant (mallory) on another's (alice's) kernels, sessions and messages,
through every endpoint and both WebSocket framings. Each must look to mallory as if alice's
things did not exist (404, never 403: ids are not confirmed), and alice's kernel must still
work afterwards."""

import asyncio
import json
import uuid

import pytest
import websockets

from conftest import user_token, v1_frame

V1 = "v1.kernel.websocket.jupyter.org"


@pytest.fixture(scope="module")
def victim(gateway):
    """alice's kernel with a notebook session on it, and a secret in its variables."""
    alice = user_token("alice")
    status, session, _ = gateway.request("POST", "/api/sessions", {
        "path": "alice/notes.ipynb", "type": "notebook", "name": "notes.ipynb",
        "kernel": {"name": "cellbox-python"}}, token=alice)
    assert status == 201, session
    kernel_id = session["kernel"]["id"]
    run(gateway, kernel_id, alice, "secret = 'alice-secret-7391'")
    yield {"token": alice, "kernel": kernel_id, "session": session["id"]}
    gateway.request("DELETE", f"/api/sessions/{session['id']}", token=alice)


def execute_request(code, session):
    return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request",
                       "session": session, "username": "x", "version": "5.3",
                       "date": "2026-01-01T00:00:00.000000Z"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "allow_stdin": False,
                        "stop_on_error": True}}


def run(gateway, kernel_id, token, code, session_id=None):
    """Runs one cell on a legacy WebSocket; returns its stdout."""
    session_id = session_id or uuid.uuid4().hex

    async def scenario():
        url = (f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels"
               f"?session_id={session_id}&token={token}")
        async with websockets.connect(url, max_size=None) as ws:
            request = execute_request(code, session_id)
            await ws.send(json.dumps(request))
            out = ""
            while True:
                m = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if m["parent_header"].get("msg_id") != request["header"]["msg_id"]:
                    continue
                if m["msg_type"] == "stream":
                    out += m["content"]["text"]
                if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                    return out

    return asyncio.run(scenario())


def refused_upgrade(gateway, kernel_id, token, subprotocols=None):
    async def scenario():
        url = f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels?token={token}"
        try:
            async with websockets.connect(url, subprotocols=subprotocols) as ws:
                # Upgraded after all: whatever it sends must not be alice's.
                await ws.send(json.dumps(execute_request("print(secret)", "m")))
                return ("upgraded", await asyncio.wait_for(ws.recv(), 5))
        except websockets.InvalidStatusCode as e:
            return ("refused", e.status_code)
        except (asyncio.TimeoutError, websockets.ConnectionClosed):
            return ("closed", None)

    return asyncio.run(scenario())


def test_kernel_endpoints_of_another_user_are_not_found(gateway, victim):
    """mallory reads, deletes, interrupts and restarts alice's kernel by its id."""
    mallory = user_token("mallory")
    kid = victim["kernel"]
    for method, suffix in [("GET", ""), ("DELETE", ""), ("POST", "/interrupt"),
                           ("POST", "/restart")]:
        status, body, _ = gateway.request(method, f"/api/kernels/{kid}{suffix}", token=mallory)
        assert status == 404, (method, suffix, status, body)
    assert kid not in json.dumps(gateway.request("GET", "/api/kernels", token=mallory)[1])
    assert run(gateway, kid, victim["token"], "print(secret)") == "alice-secret-7391\n"


def test_legacy_websocket_to_another_users_kernel_is_refused(gateway, victim):
    """mallory opens alice's kernel channels with the legacy (unnamed) WebSocket protocol."""
    assert refused_upgrade(gateway, victim["kernel"], user_token("mallory")) == ("refused", 404)


def test_v1_websocket_to_another_users_kernel_is_refused(gateway, victim):
    """mallory opens alice's kernel channels with the v1 binary protocol."""
    outcome = refused_upgrade(gateway, victim["kernel"], user_token("mallory"), [V1])
    assert outcome == ("refused", 404)


def test_session_endpoints_of_another_user_are_not_found(gateway, victim):
    """mallory reads, renames and deletes alice's notebook session, and lists sessions."""
    mallory = user_token("mallory")
    sid = victim["session"]
    assert gateway.request("GET", f"/api/sessions/{sid}", token=mallory)[0] == 404
    assert gateway.request("PATCH", f"/api/sessions/{sid}", {"path": "stolen.ipynb"},
                           token=mallory)[0] == 404
    assert gateway.request("DELETE", f"/api/sessions/{sid}", token=mallory)[0] == 404
    assert sid not in json.dumps(gateway.request("GET", "/api/sessions", token=mallory)[1])
    status, session, _ = gateway.request("GET", f"/api/sessions/{sid}", token=victim["token"])
    assert status == 200 and session["path"] == "alice/notes.ipynb"


def test_a_session_cannot_adopt_another_users_kernel(gateway, victim):
    """mallory creates a session, or moves hers, onto alice's kernel id."""
    mallory = user_token("mallory")
    status, body, _ = gateway.request("POST", "/api/sessions", {
        "path": "m.ipynb", "type": "notebook", "kernel": {"id": victim["kernel"]}}, token=mallory)
    assert status in (400, 404), (status, body)
    status, mine, _ = gateway.request("POST", "/api/sessions", {
        "path": "mine.ipynb", "type": "notebook", "kernel": {"name": "cellbox-python"}},
        token=mallory)
    assert status == 201
    status, body, _ = gateway.request("PATCH", f"/api/sessions/{mine['id']}",
                                      {"kernel": {"id": victim["kernel"]}}, token=mallory)
    assert status in (400, 404), (status, body)
    status, still, _ = gateway.request("GET", f"/api/sessions/{mine['id']}", token=mallory)
    assert still["kernel"]["id"] != victim["kernel"]
    gateway.request("DELETE", f"/api/sessions/{mine['id']}", token=mallory)


def test_replay_of_another_users_session_id_yields_nothing_of_theirs(gateway, victim):
    """mallory reconnects to her own kernel with the session_id alice used, hoping to be
    handed the messages buffered for alice while she was away."""
    shared_session = uuid.uuid4().hex
    assert run(gateway, victim["kernel"], victim["token"], "print(secret)",
               session_id=shared_session) == "alice-secret-7391\n"
    mallory = user_token("mallory")
    status, kernel, _ = gateway.request("POST", "/api/kernels", {}, token=mallory)
    assert status == 201
    out = run(gateway, kernel["id"], mallory, "print('mine')", session_id=shared_session)
    assert out == "mine\n"
    gateway.request("DELETE", f"/api/kernels/{kernel['id']}", token=mallory)


def test_v1_frames_cannot_address_another_kernel(gateway, victim):
    """mallory, on her own kernel's v1 WebSocket, sends frames whose header names alice's
    session and kernel, hoping they are routed there."""
    mallory = user_token("mallory")
    status, kernel, _ = gateway.request("POST", "/api/kernels", {}, token=mallory)
    assert status == 201

    async def scenario():
        url = (f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel['id']}/channels"
               f"?session_id=m1&token={mallory}")
        async with websockets.connect(url, subprotocols=[V1], max_size=None) as ws:
            request = execute_request("print(globals().get('secret', 'no secret here'))",
                                      victim["session"])
            request["header"]["kernel"] = victim["kernel"]
            parts = [b"shell"] + [json.dumps(request[k]).encode()
                                  for k in ("header", "parent_header", "metadata", "content")]
            await ws.send(v1_frame(parts))
            out = ""
            while True:
                frame = await asyncio.wait_for(ws.recv(), 30)
                count = int.from_bytes(frame[:8], "little")
                offsets = [int.from_bytes(frame[8 * (i + 1):8 * (i + 2)], "little")
                           for i in range(count)]
                part = [frame[offsets[i]:offsets[i + 1]] for i in range(count - 1)]
                header, content = json.loads(part[1]), json.loads(part[4])
                parent = json.loads(part[2])
                if parent.get("msg_id") != request["header"]["msg_id"]:
                    continue
                if header["msg_type"] == "stream":
                    out += content["text"]
                if header["msg_type"] == "status" and content["execution_state"] == "idle":
                    return out

    assert asyncio.run(scenario()) == "no secret here\n"
    gateway.request("DELETE", f"/api/kernels/{kernel['id']}", token=mallory)
    assert run(gateway, victim["kernel"], victim["token"], "print(secret)") == "alice-secret-7391\n"


def test_metrics_and_other_users_status_are_admin_only(gateway, victim):
    """mallory reads /metrics (every user's activity) and /api/status."""
    mallory = user_token("mallory")
    assert gateway.request("GET", "/metrics", token=mallory)[0] == 403
    status, body, _ = gateway.request("GET", "/api/status", token=mallory)
    assert status == 200
    assert victim["kernel"] not in json.dumps(body) and "alice" not in json.dumps(body)
