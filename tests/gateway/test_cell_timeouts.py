"""Cell time limits through the gateway: the request's or the server's limit is enforced by
the kernel (state kept); a cell that does not stop is killed by the gateway, explained, and
its kernel restarted."""

import time

import pytest

from conftest import Gateway
from test_kernel_death import run_cells, stdout, wait_for_state


@pytest.fixture(scope="module")
def timed_gateway():
    g = Gateway("--cell-timeout", "2", "--cell-timeout-cap", "20")
    yield g
    g.stop()


def test_the_server_default_limit_applies_and_keeps_state(timed_gateway):
    kernel_id = timed_gateway.request("POST", "/api/kernels", {})[1]["id"]
    started = time.monotonic()
    results = run_cells(timed_gateway, kernel_id, ["kept = 1", "import time\ntime.sleep(60)",
                                                   "print(kept)"])
    reply, _ = results[1]
    assert reply["content"]["ename"] == "CellTimeoutError"
    assert "2 s" in reply["content"]["evalue"]
    assert time.monotonic() - started < 15
    assert stdout(results[2][1]) == "1\n", "a soft timeout keeps the variables"
    timed_gateway.request("DELETE", f"/api/kernels/{kernel_id}")


def test_a_cell_that_ignores_the_interrupt_is_killed_and_explained(timed_gateway):
    kernel_id = timed_gateway.request("POST", "/api/kernels", {})[1]["id"]
    stubborn = ("import signal, time\n"
                "signal.signal(signal.SIGINT, lambda *args: None)  # swallows interruptions\n"
                "time.sleep(60)")
    results = run_cells(timed_gateway, kernel_id, [
        "kept = 1", stubborn,
        lambda: wait_for_state(timed_gateway, kernel_id, "idle"),
        "print('kept' in globals())"])
    reply, outputs = results[1]
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "CellTimeoutError"
    assert "did not stop" in reply["content"]["evalue"]
    assert "variables were lost" in reply["content"]["evalue"]
    assert [o["content"]["ename"] for o in outputs if o["msg_type"] == "error"] == ["CellTimeoutError"]
    assert stdout(results[2][1]) == "False\n"
    timed_gateway.request("DELETE", f"/api/kernels/{kernel_id}")


def test_cells_queued_behind_a_killed_cell_are_aborted(timed_gateway):
    """The stuck cell gets the explanation; the one queued behind it never ran: `aborted`."""
    import asyncio
    import json
    import uuid

    import websockets

    from conftest import TOKEN

    kernel_id = timed_gateway.request("POST", "/api/kernels", {})[1]["id"]
    session = uuid.uuid4().hex
    stubborn = ("import signal, time\n"
                "signal.signal(signal.SIGINT, lambda *args: None)\n"
                "time.sleep(60)")

    async def scenario():
        url = (f"ws://127.0.0.1:{timed_gateway.port}/api/kernels/{kernel_id}/channels"
               f"?session_id={session}&token={TOKEN}")
        async with websockets.connect(url, max_size=None) as ws:
            ids = []
            for code in (stubborn, "print('queued')"):
                msg_id = uuid.uuid4().hex
                ids.append(msg_id)
                await ws.send(json.dumps({
                    "header": {"msg_id": msg_id, "msg_type": "execute_request",
                               "session": session, "username": "t", "version": "5.3",
                               "date": "2026-01-01T00:00:00.000000Z"},
                    "parent_header": {}, "metadata": {}, "channel": "shell",
                    "content": {"code": code, "silent": False, "allow_stdin": False,
                                "stop_on_error": False}}))
            replies = {}
            while len(replies) < 2:
                m = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if m["channel"] == "shell" and m["parent_header"].get("msg_id") in ids:
                    replies[m["parent_header"]["msg_id"]] = m
            return [replies[i] for i in ids]

    first, second = asyncio.run(scenario())
    assert first["content"]["status"] == "error"
    assert first["content"]["ename"] == "CellTimeoutError"
    assert second["content"]["status"] == "aborted"
    timed_gateway.request("DELETE", f"/api/kernels/{kernel_id}")
