"""Attacks with deeply nested JSON: documents that parse fine but overflow the stack of
whatever walks them recursively (serialising, copying, comparing). Each must be refused above
the nesting limit (cellbox::max_json_depth, 256) before anything walks it: a 400 for REST,
a dropped frame or message with a log line for WebSockets and kernels, a 403 for tokens. The
gateway survives and another user's kernel keeps its state."""

import asyncio
import hashlib
import hmac
import json
import time
import uuid

import pytest
import websockets

from conftest import ADMIN_TOKEN, Gateway, b64url, user_token, v1_frame

V1 = "v1.kernel.websocket.jupyter.org"
DEPTH = 100_000  # 200 kB of brackets: enough to overflow any thread's stack when walked


def deep(depth=DEPTH):
    """JSON text of `depth` nested arrays."""
    return "[" * depth + "]" * depth


def header(msg_type, session):
    return {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": session,
            "username": "tenant", "date": "2026-01-01T00:00:00.000000Z", "version": "5.3"}


def execute_request(code, session):
    return {"header": header("execute_request", session), "parent_header": {}, "metadata": {},
            "channel": "shell", "content": {"code": code, "silent": False}}


class Tenant:
    """A user with one kernel of their own."""

    def __init__(self, gateway, name):
        self.gateway, self.token = gateway, user_token(name)
        status, model, _ = gateway.request("POST", "/api/kernels", {}, token=self.token)
        assert status == 201, model
        self.kernel = model["id"]

    def url(self, session):
        return (f"ws://127.0.0.1:{self.gateway.port}/api/kernels/{self.kernel}/channels"
                f"?session_id={session}&token={self.token}")

    def run(self, code, session="check"):
        """Runs `code` on a legacy connection; returns its execute_result text."""
        async def scenario():
            async with websockets.connect(self.url(session), max_size=None) as ws:
                msg = execute_request(code, session)
                await ws.send(json.dumps(msg))
                result = None
                while True:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    if m["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                        continue
                    if m["msg_type"] == "execute_result":
                        result = m["content"]["data"]["text/plain"]
                    if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                        return result
        return asyncio.run(scenario())


@pytest.fixture(scope="module")
def gateway():
    g = Gateway()
    yield g
    g.stop()
    assert g.process.returncode == 0, "the gateway did not survive:\n" + g.logs()[-3000:]


@pytest.fixture(scope="module")
def victim(gateway):
    """Another user, whose kernel holds state the attacks must not disturb."""
    bob = Tenant(gateway, "bob")
    assert bob.run("x = 41\nx") == "41"
    return bob


@pytest.fixture(scope="module")
def attacker(gateway):
    return Tenant(gateway, "mallory")


def assert_unharmed(gateway, victim, attacker=None):
    assert gateway.process.poll() is None, "the gateway died:\n" + gateway.logs()[-3000:]
    assert victim.run("x + 1") == "42", "the other user's kernel lost its state"
    if attacker is not None:
        assert attacker.run("2 * 21") == "42", "the attacker's own kernel stopped working"


def dropped_frames(gateway, why="nests JSON deeper than 256 levels"):
    return [line for line in gateway.logs().splitlines()
            if "dropped a WebSocket frame" in line and why in line]


async def send_and_ping(url, frames, subprotocols=None):
    async with websockets.connect(url, subprotocols=subprotocols, max_size=None) as ws:
        for frame in frames:
            await ws.send(frame)
        await ws.ping()


def test_legacy_frame_with_deeply_nested_content(gateway, victim, attacker):
    """A legacy text frame whose execute_request content nests 100 000 arrays."""
    before = len(dropped_frames(gateway))
    text = json.dumps(execute_request("1", "deep-legacy"))
    frame = text.replace('"silent": false', '"silent": false, "x": ' + deep())
    assert len(frame) > 2 * DEPTH
    asyncio.run(send_and_ping(attacker.url("deep-legacy"), [frame]))
    assert_unharmed(gateway, victim, attacker)
    assert len(dropped_frames(gateway)) == before + 1, gateway.logs()[-3000:]


def test_v1_frame_with_deeply_nested_metadata(gateway, victim, attacker):
    """A v1 frame whose execute_request metadata (which the gateway rewrites) nests 100 000
    arrays, and one with a deep content, header and parent_header."""
    before = len(dropped_frames(gateway))
    head = json.dumps(header("execute_request", "deep-v1")).encode()
    content = json.dumps({"code": "1", "silent": False}).encode()
    metadata = ('{"cellbox": {"timeout": 5}, "x": ' + deep() + "}").encode()
    nested = ('{"x": ' + deep() + "}").encode()
    frames = [v1_frame([b"shell", head, b"{}", metadata, content]),
              v1_frame([b"shell", head, b"{}", b"{}", nested]),
              v1_frame([b"shell", head, nested, b"{}", content]),
              v1_frame([b"shell", head[:-1] + b', "x": ' + deep().encode() + b"}", b"{}", b"{}",
                        content])]
    asyncio.run(send_and_ping(attacker.url("deep-v1"), frames, subprotocols=[V1]))
    assert_unharmed(gateway, victim, attacker)
    assert len(dropped_frames(gateway)) == before + len(frames), gateway.logs()[-3000:]


REST_DEPTH = 1_000_000  # 2 MB, far under --max-message-bytes: enough to overflow a copy


@pytest.mark.parametrize("path,body", [
    ("/api/kernels", '{"env": ' + deep(REST_DEPTH) + "}"),
    ("/api/kernels", '{"name": "cellbox-python", "x": {"y": ' + deep(REST_DEPTH) + "}}"),
    ("/api/sessions", '{"path": "a.ipynb", "type": "notebook", "kernel": ' + deep(REST_DEPTH)
     + "}"),
], ids=["kernel-env", "kernel-extra-field", "session-kernel"])
def test_rest_body_nested_deeply(gateway, victim, path, body):
    """A REST body (new kernel, new session) nesting a million arrays, in a field the gateway
    copies (env) or in one it ignores."""
    status, answer, _ = gateway.request("POST", path, body.encode(),
                                        token=user_token("mallory"))
    assert status == 400, answer
    assert "deeper than 256" in answer["message"] and answer["reason"] == "Bad Request"
    assert_unharmed(gateway, victim)


def signed_token(claims_text):
    """A token over raw claims text, signed with the gateway's secret: a SaaS backend that put
    a user's data in a claim."""
    head = b64url(b'{"alg":"HS256","typ":"JWT"}')
    body = b64url(claims_text.encode())
    signature = hmac.new(ADMIN_TOKEN.encode(), f"{head}.{body}".encode(), hashlib.sha256)
    return f"{head}.{body}.{b64url(signature.digest())}"


def test_token_with_deeply_nested_header_or_claims(gateway, victim):
    """A JWT whose header (read before the signature is checked) or signed claims nest as
    deep as a request's headers can carry."""
    depth = 2000  # the token travels in a header: Beast caps a request's headers at 8 KiB
    exp = int(time.time()) + 600
    forged = ".".join([b64url(('{"alg": "HS256", "x": ' + deep(depth) + "}").encode()),
                       b64url(json.dumps({"sub": "mallory", "exp": exp}).encode()),
                       b64url(b"x" * 32)])
    signed_deep = signed_token('{"sub": "mallory", "exp": %d, "x": %s}' % (exp, deep(depth)))
    for token in (forged, signed_deep):
        status, answer, _ = gateway.request("GET", "/api/kernels", token=token)
        assert status == 403 and "deeper than 256" in answer["message"], answer
    # Nesting under the limit, in a claim the gateway ignores, leaves a valid token.
    shallow = signed_token('{"sub": "mallory", "exp": %d, "x": %s}' % (exp, deep(200)))
    assert gateway.request("GET", "/api/kernels", token=shallow)[0] == 200
    assert_unharmed(gateway, victim)


@pytest.mark.as_cell
def test_kernel_message_nested_deeply(gateway, victim, attacker):
    """Code in a cell publishes a display_data whose JSON nests 1000 levels: a hostile
    kernel's message the gateway must drop, not walk."""
    before = gateway.logs().count("dropped a kernel message")
    code = ("from IPython.display import display\n"
            "x = []\n"
            "for _ in range(1000):\n"
            "    x = [x]\n"
            "display({'application/json': {'x': x}}, raw=True)\n"
            "'after'")
    assert attacker.run(code, session="deep-kernel") == "'after'"
    logs = gateway.logs()
    assert logs.count("dropped a kernel message") == before + 1, logs[-3000:]
    assert "nests JSON deeper than 256 levels" in logs
    assert_unharmed(gateway, victim, attacker)
