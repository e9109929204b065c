"""What the fuzzers of tests/fuzz found, replayed as a tenant against a running gateway: each
was an input the gateway mishandled before its fix (the crashing inputs are in
tests/fuzz/corpus/*/crash-*)."""

import asyncio
import json
import uuid

import websockets

from conftest import b64url, user_token, v1_frame

V1 = "v1.kernel.websocket.jupyter.org"


def test_token_header_with_a_non_string_alg(gateway):
    """A token whose header says {"alg": 5}: before the fix the JSON library's type error
    escaped the authenticator and the request got no answer at all (fuzz_jwt)."""
    for head in (b'{"alg":5}', b'{"alg":null}', b'{"alg":["HS256"]}'):
        token = f"{b64url(head)}.{b64url(b'{}')}.{b64url(b'sig')}"
        status, answer, _ = gateway.request("GET", "/api/kernels", token=token)
        assert status == 403 and answer["reason"] == "Forbidden", answer
    assert gateway.request("GET", "/api/kernels", token=user_token("mallory"))[0] == 200


def test_message_part_with_a_nul_byte_and_trailing_bytes(gateway):
    """A v1 frame whose content is a JSON object, a NUL byte and more: the JSON library stops at
    the NUL, so the gateway took it for an object and relayed bytes no JSON parser should
    accept (fuzz_json_check)."""
    token = user_token("mallory")
    status, model, _ = gateway.request("POST", "/api/kernels", {}, token=token)
    assert status == 201
    url = (f"ws://127.0.0.1:{gateway.port}/api/kernels/{model['id']}/channels"
           f"?session_id=nul&token={token}")
    head = {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "session": "nul",
            "username": "mallory", "version": "5.3"}
    content = json.dumps({"code": "1 + 1", "silent": False}).encode() + b"\0\xff trailing"
    before = gateway.logs().count("the content is not a JSON object")

    async def send():
        async with websockets.connect(url, subprotocols=[V1]) as ws:
            await ws.send(v1_frame([b"shell", json.dumps(head).encode(), b"{}", b"{}", content]))
            await ws.ping()

    asyncio.run(send())
    assert gateway.logs().count("the content is not a JSON object") == before + 1, \
        gateway.logs()[-2000:]
    assert gateway.request("DELETE", f"/api/kernels/{model['id']}", token=token)[0] == 204
