"""Kernels as a tenant sees them: start one with a user token, run cells in it over the
WebSocket. The tool of the attacks made from a cell."""

import asyncio
import json
import re
import time
import uuid

import websockets

from conftest import gateway_support


def start_kernel(gateway, token, name=None):
    """Starts a kernel (the default kernelspec unless `name`) and returns its id."""
    body = {"name": name} if name else {}
    status, model, _ = gateway.request("POST", "/api/kernels", body, token=token)
    assert status == 201, f"the kernel did not start: {status} {model}"
    return model["id"]


async def _execute(ws, code, session):
    msg_id = uuid.uuid4().hex
    await ws.send(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                   "username": "tenant", "date": "2026-01-01T00:00:00.000000Z",
                   "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "allow_stdin": False,
                    "stop_on_error": False}}))

    async def receive():
        return json.loads(await ws.recv())

    return await gateway_support.reply_and_outputs(receive, msg_id, timeout=120)


def run_cells(gateway, kernel_id, cells, token):
    """Runs the cells in order on one WebSocket; returns [(reply, iopub messages)]."""
    session = uuid.uuid4().hex
    url = (f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels"
           f"?session_id={session}&token={token}")
    results = []

    async def scenario():
        async with websockets.connect(url, max_size=None) as ws:
            for cell in cells:
                results.append(await _execute(ws, cell, session))

    asyncio.run(scenario())
    return results


def stdout(outputs):
    return "".join(o["content"]["text"] for o in outputs if o["msg_type"] == "stream")


def run(gateway, kernel_id, code, token):
    """One cell: its reply's status and what it printed."""
    reply, outputs = run_cells(gateway, kernel_id, [code], token)[0]
    return reply["content"]["status"], stdout(outputs)


def metric(gateway, name, labels=""):
    text = gateway.request_text("/metrics")
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def wait_for_pool(gateway, kernelspec, ready=1, seconds=120):
    """Until the zygote (or launch) pool of `kernelspec` has `ready` sessions waiting, so that
    the next kernel is a pooled session bound to its user (the zygote's `go`, late binding)."""
    deadline = time.monotonic() + seconds
    labels = f'{{kernelspec="{kernelspec}"}}'
    while (metric(gateway, "cellbox_pool_ready_sessions", labels) or 0) < ready:
        assert time.monotonic() < deadline, f"the pool of {kernelspec} did not fill"
        time.sleep(0.1)


def pool_hits(gateway):
    return metric(gateway, "cellbox_pool_takes_total", '{result="hit"}') or 0
