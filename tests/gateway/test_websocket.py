"""The channels WebSocket of cellbox serve, in both framings, against real kernels."""

import asyncio
import json
import uuid

import pytest
import websockets

from conftest import TOKEN, decode_v1, encode_v1, reply_and_outputs

V1 = "v1.kernel.websocket.jupyter.org"


def header(msg_type, session):
    return {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": session,
            "username": "test", "date": "2026-01-01T00:00:00.000000Z", "version": "5.3"}


async def run_cell(ws, code, v1, session):
    msg = {"header": header("execute_request", session), "parent_header": {}, "metadata": {},
           "content": {"code": code, "silent": False, "allow_stdin": False}}
    if v1:
        await ws.send(encode_v1("shell", msg))
    else:
        await ws.send(json.dumps({**msg, "channel": "shell"}))

    async def receive():
        frame = await ws.recv()
        if not v1:
            return json.loads(frame)
        m = decode_v1(frame)
        m["msg_type"] = m["header"]["msg_type"]
        return m

    return await reply_and_outputs(receive, msg["header"]["msg_id"], timeout=30)


def kernel(gateway):
    status, model, _ = gateway.request("POST", "/api/kernels", {})
    assert status == 201
    return model["id"]


@pytest.mark.parametrize("v1", [False, True], ids=["legacy", "v1"])
def test_execute_over_the_websocket(gateway, v1):
    kernel_id = kernel(gateway)
    session = uuid.uuid4().hex

    async def scenario():
        url = f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels?session_id={session}&token={TOKEN}"
        async with websockets.connect(url, subprotocols=[V1] if v1 else None) as ws:
            assert ws.subprotocol == (V1 if v1 else None)
            reply, outputs = await run_cell(ws, "x = 6\nprint('hello'); x * 7", v1, session)
            assert reply["content"]["status"] == "ok"
            texts = [o["content"]["text"] for o in outputs if o["msg_type"] == "stream"]
            assert texts == ["hello\n"]
            results = [o["content"]["data"]["text/plain"] for o in outputs
                       if o["msg_type"] == "execute_result"]
            assert results == ["42"]
            status, model, _ = gateway.request("GET", f"/api/kernels/{kernel_id}")
            assert model["connections"] == 1
            # Garbage is dropped with a log line; the connection and the kernel carry on.
            await ws.send(b"\x00\x01garbage" if v1 else "{not json")
            reply, outputs = await run_cell(ws, "x + 1", v1, session)
            assert [o["content"]["data"]["text/plain"] for o in outputs
                    if o["msg_type"] == "execute_result"] == ["7"]

    asyncio.run(scenario())
    assert gateway.request("DELETE", f"/api/kernels/{kernel_id}")[0] == 204


def test_websocket_requires_the_token_and_a_kernel(gateway):
    kernel_id = kernel(gateway)

    async def scenario():
        for url in [f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels",
                    f"ws://127.0.0.1:{gateway.port}/api/kernels/11111111-2222-3333-4444-555555555555/channels?token={TOKEN}"]:
            with pytest.raises(websockets.exceptions.InvalidStatusCode) as error:
                async with websockets.connect(url):
                    pass
            assert error.value.status_code in (401, 403, 404)

    asyncio.run(scenario())
    gateway.request("DELETE", f"/api/kernels/{kernel_id}")


def test_two_clients_on_one_kernel_both_see_iopub(gateway):
    kernel_id = kernel(gateway)

    async def scenario():
        base = f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels?token={TOKEN}"
        async with websockets.connect(base + "&session_id=a") as first, \
                websockets.connect(base + "&session_id=b") as second:
            await asyncio.sleep(0.3)  # both subscriptions in place
            reply, outputs = await run_cell(first, "print('shared')", False, "a")
            assert reply["content"]["status"] == "ok"
            seen = []
            while not any(m.get("msg_type") == "stream" for m in seen):
                seen.append(json.loads(await asyncio.wait_for(second.recv(), 10)))
            assert [m["content"]["text"] for m in seen if m.get("msg_type") == "stream"] == ["shared\n"]

    asyncio.run(scenario())
    gateway.request("DELETE", f"/api/kernels/{kernel_id}")
