"""A client that is away while its kernel restarts (it died, or POST /restart) still gets, on
its reconnect with the same session_id, what was buffered for it and the gateway's
explanation of the death."""

import asyncio
import json
import time
import uuid

import websockets

from conftest import Gateway, reply_and_outputs
from test_ws_flow import channels_url, execute_request, receive, run, start_kernel, stream_text


def wait_for(gateway, kernel_id, ready, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        model = gateway.request("GET", f"/api/kernels/{kernel_id}")[1]
        if ready(model):
            return model
        assert time.monotonic() < deadline, f"kernel stuck: {model}"
        time.sleep(0.1)


async def send_and_leave(url, msg):
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps(msg))


def test_a_death_while_disconnected_is_explained_on_reconnect():
    gateway = Gateway()
    try:
        kernel_id = start_kernel(gateway)
        session = uuid.uuid4().hex
        url = channels_url(gateway, kernel_id, session)
        msg = execute_request("import os, time\nprint('started', flush=True)\ntime.sleep(2)\n"
                              "os._exit(1)", session)
        asyncio.run(send_and_leave(url, msg))
        wait_for(gateway, kernel_id,
                 lambda m: "exited with code 1" in m.get("reason", "")
                 and m["execution_state"] == "idle")

        async def reconnect():
            async with websockets.connect(url) as ws:
                reply, outputs = await reply_and_outputs(lambda: receive(ws),
                                                         msg["header"]["msg_id"], 30)
                assert reply["content"]["status"] == "error"
                assert reply["content"]["ename"] == "KernelDied"
                assert "exited with code 1" in reply["content"]["evalue"]
                errors = [o for o in outputs if o["msg_type"] == "error"]
                assert errors and errors[0]["content"]["ename"] == "KernelDied"
                assert stream_text(outputs) == "started\n"  # from before the death
                reply, outputs = await run(ws, "1 + 1", session)  # the new kernel answers
                assert reply["content"]["status"] == "ok"

        asyncio.run(reconnect())
    finally:
        gateway.stop()


def test_messages_buffered_before_a_restart_survive_it():
    gateway = Gateway()
    try:
        kernel_id = start_kernel(gateway)
        session = uuid.uuid4().hex
        url = channels_url(gateway, kernel_id, session)
        msg = execute_request("import time\ntime.sleep(1)\nprint('hello')\n6 * 7", session)
        asyncio.run(send_and_leave(url, msg))
        time.sleep(0.5)
        wait_for(gateway, kernel_id, lambda m: m["execution_state"] == "idle")
        status, model, _ = gateway.request("POST", f"/api/kernels/{kernel_id}/restart", {})
        assert status == 200

        async def reconnect():
            async with websockets.connect(url) as ws:
                reply, outputs = await reply_and_outputs(lambda: receive(ws),
                                                         msg["header"]["msg_id"], 30)
                assert reply["content"]["status"] == "ok"
                assert stream_text(outputs) == "hello\n"
                assert [o["content"]["data"]["text/plain"] for o in outputs
                        if o["msg_type"] == "execute_result"] == ["42"]

        asyncio.run(reconnect())
        assert gateway.wait_for_log("replaying")
    finally:
        gateway.stop()
