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
