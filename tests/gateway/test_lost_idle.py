"""A kernel's iopub drops messages at ZeroMQ's high-water mark when the gateway reads slower
than a cell writes; the cell's final idle status can be among them. The gateway is stopped
(SIGSTOP) while a cell makes 6000 displays, so that the kernel's queues fill and the tail of
its iopub is dropped for certain: the execution still ends (2 s after its reply, with a
warning) and the kernel is idle again, so that culling and hibernation are not held off; a
WebSocket client (JupyterLab waits for a request's reply and its idle status) gets an idle
status from the gateway in place of the lost one."""
import asyncio
import json
import os
import signal
import threading
import time
import uuid

import websockets

from conftest import TOKEN, Gateway, reply_and_outputs

FLOOD = ("import time\ntime.sleep(1)\nfrom IPython.display import display\n"
         "for i in range(6000):\n    display(i)\nprint('end')")


def stop_gateway_for(g, seconds):
    os.kill(g.process.pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)  # the displays: far more than the queues between the two hold
    finally:
        os.kill(g.process.pid, signal.SIGCONT)


def new_kernel(g):
    status, body, _ = g.request("POST", "/api/kernels", {})
    assert status == 201, body
    return body["id"]


def test_an_execution_whose_idle_status_was_dropped_still_ends_and_the_kernel_is_idle():
    g = Gateway()
    try:
        kernel_id = new_kernel(g)
        status, body, _ = g.request("POST", f"/api/kernels/{kernel_id}/execute",
                                    {"code": "1"})
        assert status == 200 and body["status"] == "ok", body

        answer = {}

        def execute():
            answer["reply"] = g.request("POST", f"/api/kernels/{kernel_id}/execute",
                                        {"code": FLOOD})

        thread = threading.Thread(target=execute)
        thread.start()
        time.sleep(0.5)  # the request is with the kernel, which sleeps
        stop_gateway_for(g, 6)
        thread.join(60)
        assert not thread.is_alive(), "the execution never ended"
        status, body, _ = answer["reply"]
        assert status == 200 and body["status"] == "ok", body
        logs = g.logs()
        # Proof that the scenario happened: without a lost idle status the execution ends on
        # that status, and nothing is logged.
        assert "execution ended without its idle status" in logs, logs[-3000:]

        deadline = time.monotonic() + 10
        state = None
        while time.monotonic() < deadline:
            state = g.request("GET", f"/api/kernels/{kernel_id}")[1]["execution_state"]
            if state == "idle":
                break
            time.sleep(0.2)
        assert state == "idle"
        assert g.wait_for_log("idle status lost")
        # And the kernel still serves.
        status, body, _ = g.request("POST", f"/api/kernels/{kernel_id}/execute",
                                    {"code": "print(6 * 7)"})
        assert status == 200 and body["stdout"] == "42\n", body
    finally:
        g.stop()


def test_a_websocket_client_gets_the_idle_status_its_kernel_lost():
    g = Gateway()
    try:
        kernel_id = new_kernel(g)
        session = uuid.uuid4().hex
        url = (f"ws://127.0.0.1:{g.port}/api/kernels/{kernel_id}/channels"
               f"?session_id={session}&token={TOKEN}")

        async def scenario():
            async with websockets.connect(url, max_size=None) as ws:
                async def receive():
                    return json.loads(await ws.recv())

                msg_id = uuid.uuid4().hex
                await ws.send(json.dumps({
                    "channel": "shell",
                    "header": {"msg_id": msg_id, "msg_type": "execute_request",
                               "session": session, "username": "test", "version": "5.3",
                               "date": "2026-01-01T00:00:00.000000Z"},
                    "parent_header": {}, "metadata": {},
                    "content": {"code": FLOOD, "silent": False}}))
                await asyncio.sleep(0.5)  # the request is with the kernel, which sleeps
                await asyncio.get_running_loop().run_in_executor(None, stop_gateway_for, g, 6)
                # Without the gateway's idle status this waits for ever (here: fails at 60 s).
                reply, outputs = await reply_and_outputs(receive, msg_id, timeout=60)
                assert reply["content"]["status"] == "ok", reply
                idles = [o for o in outputs if o["msg_type"] == "status"
                         and o["content"]["execution_state"] == "idle"]
                assert len(idles) == 1, idles
                return msg_id

        asyncio.run(scenario())
        # Proof that the kernel's own idle status was lost and this one is the gateway's.
        assert g.wait_for_log("idle status lost"), g.logs()[-3000:]
        status, body, _ = g.request("POST", f"/api/kernels/{kernel_id}/execute",
                                    {"code": "print(6 * 7)"})
        assert status == 200 and body["stdout"] == "42\n", body
    finally:
        g.stop()
