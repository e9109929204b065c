"""Idle culling, as jupyter_server's: --cull-idle-timeout, --cull-interval, --cull-connected,
--cull-busy. A culled kernel is shut down and removed with its sandbox."""

import asyncio
import json
import os
import subprocess
import time
import uuid

import pytest
import websockets

from conftest import TOKEN, Gateway

# jupyter_server's culling: idle kernels deleted (the default action, hibernation, is tested
# in test_hibernate.py).
CULL = ("--cull-idle-timeout", "1", "--cull-interval", "1", "--cull-action", "shutdown")


@pytest.fixture(scope="module")
def culling_gateway():
    g = Gateway(*CULL)
    yield g
    g.stop()


def exists(gateway, kernel_id):
    return gateway.request("GET", f"/api/kernels/{kernel_id}")[0] == 200


def wait_until_gone(gateway, kernel_id, seconds=10):
    deadline = time.monotonic() + seconds
    while exists(gateway, kernel_id):
        assert time.monotonic() < deadline, "the idle kernel was not culled"
        time.sleep(0.2)


def assert_nothing_left(gateway):
    ps = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True).stdout
    kernels = os.path.join(gateway.runtime, "run", "kernel-")  # in every sandbox's arguments
    assert not [line for line in ps.splitlines() if kernels in line], \
        "a culled kernel's sandbox is still running"
    run = os.path.join(gateway.runtime, "run")
    assert not [d for d in os.listdir(run) if d.startswith("kernel-")]


def channels(gateway, kernel_id):
    return (f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels"
            f"?session_id={uuid.uuid4().hex}&token={TOKEN}")


def test_an_idle_kernel_is_culled_and_leaves_nothing(culling_gateway):
    kernel_id = culling_gateway.request("POST", "/api/kernels", {})[1]["id"]
    created = time.monotonic()
    wait_until_gone(culling_gateway, kernel_id)
    assert time.monotonic() - created > 0.9, "culled before it had been idle for 1 s"
    time.sleep(0.5)  # the launcher's exit is reaped
    assert_nothing_left(culling_gateway)
    assert f'msg="kernel culled" kernel={kernel_id}' in culling_gateway.logs()
    status = culling_gateway.request("GET", "/api/status")[1]
    assert status["kernels"] == 0


def test_a_connected_kernel_is_spared_until_it_disconnects(culling_gateway):
    kernel_id = culling_gateway.request("POST", "/api/kernels", {})[1]["id"]

    async def stay_connected():
        async with websockets.connect(channels(culling_gateway, kernel_id)):
            await asyncio.sleep(3.5)
            return exists(culling_gateway, kernel_id)

    assert asyncio.run(stay_connected()), "culled while a client was connected"
    wait_until_gone(culling_gateway, kernel_id)


def test_a_busy_kernel_is_spared_until_its_cell_ends(culling_gateway):
    kernel_id = culling_gateway.request("POST", "/api/kernels", {})[1]["id"]
    session = uuid.uuid4().hex

    async def start_a_long_cell():
        url = (f"ws://127.0.0.1:{culling_gateway.port}/api/kernels/{kernel_id}/channels"
               f"?session_id={session}&token={TOKEN}")
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({
                "header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request",
                           "session": session, "username": "t", "version": "5.3",
                           "date": "2026-01-01T00:00:00.000000Z"},
                "parent_header": {}, "metadata": {}, "channel": "shell",
                "content": {"code": "import time\ntime.sleep(5)", "silent": False}}))
            while True:  # leave once the cell is running
                message = json.loads(await ws.recv())
                if message["msg_type"] == "execute_input":
                    return

    asyncio.run(start_a_long_cell())
    time.sleep(3)
    model = culling_gateway.request("GET", f"/api/kernels/{kernel_id}")[1]
    assert model["execution_state"] == "busy" and model["connections"] == 0
    wait_until_gone(culling_gateway, kernel_id, seconds=15)


def test_cull_connected_culls_connected_kernels():
    g = Gateway(*CULL, "--cull-connected")
    try:
        kernel_id = g.request("POST", "/api/kernels", {})[1]["id"]

        async def stay_connected():
            async with websockets.connect(channels(g, kernel_id)):
                wait_until_gone(g, kernel_id)

        asyncio.run(stay_connected())
        time.sleep(0.5)
        assert_nothing_left(g)
    finally:
        g.stop()


def test_culling_is_off_by_default(gateway):
    kernel_id = gateway.request("POST", "/api/kernels", {})[1]["id"]
    time.sleep(2.5)
    assert exists(gateway, kernel_id)
    gateway.request("DELETE", f"/api/kernels/{kernel_id}")
