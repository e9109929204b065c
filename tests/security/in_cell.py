"""Code in a cell, as a tenant runs it: start a kernel with a user token and run cells in it
over the gateway's WebSocket. Shared by the attacks made as code in a cell."""

import asyncio
import json
import time
import uuid

import websockets

from tenant_kernels import start_kernel, wait_for_pool  # noqa: F401 (used by the attacks)

# The three ways a kernel is started: forked by the zygote, launched through cellbox-sandbox
# on demand, or prespawned by a launch pool (Debian's ipykernel). The gateway's flags and the
# kernelspec to ask for.
KERNEL_MODES = {
    "zygote": (("--pool-size", "1"), "cellbox-python"),
    "plain": (("--pool-size", "0"), "cellbox-python"),
    "launch-pool": (("--pool-size", "0", "--launch-pool-size", "1"), "python3"),
}


def start_gateway_for(mode, factory):
    """A gateway started by `factory(*flags)` for one of KERNEL_MODES, its pool filled; returns
    (gateway, kernelspec)."""
    flags, kernelspec = KERNEL_MODES[mode]
    g = factory(*flags)
    if mode != "plain":
        wait_for_pool(g, kernelspec)
    return g, kernelspec


def run_cell(gateway, kernel_id, code, token, timeout=120):
    """Runs `code` and returns (reply content, the text it printed to stdout)."""
    session = uuid.uuid4().hex
    msg_id = uuid.uuid4().hex
    url = (f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels"
           f"?session_id={session}&token={token}")

    async def scenario():
        async with websockets.connect(url, max_size=None) as ws:
            await ws.send(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                           "username": "tenant", "date": "2026-01-01T00:00:00.000000Z",
                           "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell",
                "content": {"code": code, "silent": False, "allow_stdin": False,
                            "stop_on_error": False}}))
            reply, printed, idle = None, [], False
            deadline = time.monotonic() + timeout
            while reply is None or not idle:
                left = deadline - time.monotonic()
                m = json.loads(await asyncio.wait_for(ws.recv(), max(left, 0.1)))
                if m["parent_header"].get("msg_id") != msg_id:
                    continue
                if m["channel"] == "shell":
                    reply = m["content"]
                elif m["msg_type"] == "stream" and m["content"]["name"] == "stdout":
                    printed.append(m["content"]["text"])
                elif m["msg_type"] == "status":
                    idle = m["content"]["execution_state"] == "idle"
            return reply, "".join(printed)

    return asyncio.run(scenario())


def run_json_cell(gateway, kernel_id, code, token):
    """Runs `code`, which prints one JSON document on a line of its own; returns the last such
    line. Other lines may be the kernel's own: an ipykernel's background threads print into the
    running cell (test_gateway_log's attack writes to and truncates every file the kernel holds,
    its SQLite history among them, and IPython's history thread then says so, sometimes after
    the attack's report: seen once in CI)."""
    reply, printed = run_cell(gateway, kernel_id, code, token)
    assert reply["status"] == "ok", reply
    for line in reversed(printed.strip().splitlines()):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    raise AssertionError(f"the cell printed no JSON line: {printed!r}")
