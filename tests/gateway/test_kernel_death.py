"""A kernel that dies (exit, OOM kill) is explained to the frontend, answered, and restarted;
its neighbours are unaffected."""

import asyncio
import json
import time
import uuid

import pytest
import websockets

from conftest import TOKEN, Gateway, reply_and_outputs


@pytest.fixture(scope="module")
def small_gateway():
    g = Gateway("--memory", "256M")
    yield g
    g.stop()


def wait_for_state(gateway, kernel_id, state, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        model = gateway.request("GET", f"/api/kernels/{kernel_id}")[1]
        if model["execution_state"] == state:
            return model
        assert time.monotonic() < deadline, f"kernel stuck in {model['execution_state']}"
        time.sleep(0.1)


async def execute(ws, code, session, metadata=None):
    msg_id = uuid.uuid4().hex
    await ws.send(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                   "username": "t", "date": "2026-01-01T00:00:00.000000Z", "version": "5.3"},
        "parent_header": {}, "metadata": metadata or {}, "channel": "shell",
        "content": {"code": code, "silent": False, "allow_stdin": False, "stop_on_error": False}}))

    async def receive():
        return json.loads(await ws.recv())

    return await reply_and_outputs(receive, msg_id)


def run_cells(gateway, kernel_id, cells, token=TOKEN, metadata=None):
    """Runs cells in order on one WebSocket; a callable cell is called between cells."""
    session = uuid.uuid4().hex
    results = []

    async def scenario():
        url = f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels?session_id={session}&token={token}"
        async with websockets.connect(url, max_size=None) as ws:
            for cell in cells:
                if callable(cell):
                    await asyncio.get_event_loop().run_in_executor(None, cell)
                else:
                    results.append(await execute(ws, cell, session, metadata))

    asyncio.run(scenario())
    return results


def stdout(outputs):
    return "".join(o["content"]["text"] for o in outputs if o["msg_type"] == "stream")


def test_a_kernel_that_exits_is_explained_and_restarted(small_gateway):
    kernel_id = small_gateway.request("POST", "/api/kernels", {})[1]["id"]
    results = run_cells(small_gateway, kernel_id, [
        "x = 41",
        "import os\nos._exit(3)",
        lambda: wait_for_state(small_gateway, kernel_id, "idle"),
        "print('x' in globals())",
    ])
    reply, outputs = results[1]
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KernelDied"
    assert "exited with code 3" in reply["content"]["evalue"]
    assert "variables were lost" in reply["content"]["evalue"]
    errors = [o for o in outputs if o["msg_type"] == "error"]
    assert errors and errors[0]["content"]["ename"] == "KernelDied"
    reply, outputs = results[2]
    assert reply["content"]["status"] == "ok" and stdout(outputs) == "False\n"
    model = small_gateway.request("GET", f"/api/kernels/{kernel_id}")[1]
    assert "exited with code 3" in model["reason"]
    small_gateway.request("DELETE", f"/api/kernels/{kernel_id}")


# Memory the kernel's own soft limit cannot see (a child process's) takes a 256 MiB session to
# its cgroup's limit; the kernel volunteers to the OOM killer (oom_score_adj, which a process may
# raise, where its /proc files are its own: launched kernels) and is the biggest anyway (a pooled
# kernel's resident set includes the pandas it shares with its zygote).
CHILD_EATS_MEMORY = ("import subprocess, sys, time\n"
                     "child = subprocess.Popen([sys.executable, '-c', "
                     "\"b = b'y' * (160 * 2**20); import time; time.sleep(30)\"])\n"
                     "time.sleep(2)\n"
                     "try:\n    open('/proc/self/oom_score_adj', 'w').write('1000')\n"
                     "except PermissionError:\n    pass\n"
                     "hog = b'x' * (90 * 2**20)\n"
                     "time.sleep(5)")


def test_out_of_memory_is_explained_and_the_neighbour_is_untouched(small_gateway):
    neighbour = small_gateway.request("POST", "/api/kernels", {})[1]["id"]
    run_cells(small_gateway, neighbour, ["kept = 'safe'"])
    kernel_id = small_gateway.request("POST", "/api/kernels", {})[1]["id"]
    # One oversized allocation meets the kernel's soft limit (set below the cgroup's): a plain
    # MemoryError, the kernel and its variables kept.
    results = run_cells(small_gateway, kernel_id, [
        "mine = 'kept'", "hog = b'x' * (1024 * 2**20)", "print(mine)"])
    assert results[1][0]["content"]["ename"] == "MemoryError"
    assert stdout(results[2][1]) == "kept\n"
    # Memory that the soft limit cannot see (a child process's) reaches the cgroup's limit;
    # the OOM killer must pick the kernel: it volunteers (oom_score_adj, which a process may
    # raise, where its /proc files are its own: launched kernels) and is the biggest anyway
    # (a pooled kernel's resident set includes the pandas it shares with its zygote).
    results = run_cells(small_gateway, kernel_id, [CHILD_EATS_MEMORY])
    reply, outputs = results[0]
    assert reply["content"]["ename"] == "MemoryLimitExceeded"
    assert "256 MiB" in reply["content"]["evalue"]
    wait_for_state(small_gateway, kernel_id, "idle")
    results = run_cells(small_gateway, neighbour, ["print(kept)"])
    assert stdout(results[0][1]) == "safe\n"
    for k in (kernel_id, neighbour):
        small_gateway.request("DELETE", f"/api/kernels/{k}")
