"""An MCP session's kernel over its life: culled with its session when idle (on a gateway with
a 2 s MCP idle timeout), started afresh (and said so) when the kernel was deleted under the
session. Plain HTTP, as the specification writes the messages."""

import importlib.util
import pathlib
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("gateway_conftest", HERE.parent / "gateway" / "conftest.py")
gateway_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gateway_conftest)

IDLE = 2


@pytest.fixture(scope="module")
def gateway():
    g = gateway_conftest.Gateway("--mcp-session-idle-timeout", str(IDLE))
    yield g
    g.stop()


def initialize(gateway):
    status, body, headers = gateway.request(
        "POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                         "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "pytest", "version": "1"}}},
        headers={"Content-Type": "application/json"})
    assert status == 200 and body["result"]["protocolVersion"] == "2025-06-18"
    return headers["Mcp-Session-Id"]


def call(gateway, session, code):
    status, body, _ = gateway.request(
        "POST", "/mcp", {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                         "params": {"name": "execute_code", "arguments": {"code": code}}},
        headers={"Content-Type": "application/json", "Mcp-Session-Id": session})
    return status, body


def kernel_ids(gateway):
    return {k["id"] for k in gateway.request("GET", "/api/kernels")[1]}


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_idle_session_is_culled_with_its_kernel(gateway):
    session = initialize(gateway)
    before = kernel_ids(gateway)
    status, body = call(gateway, session, "1+1")
    assert status == 200 and not body["result"]["isError"]
    (kernel,) = kernel_ids(gateway) - before
    # culled within the timeout plus one culling period (a tenth of it, at least 1 s)
    assert wait_for(lambda: kernel not in kernel_ids(gateway), IDLE + 4), "kernel not culled"
    assert call(gateway, session, "1+1")[0] == 404
    assert gateway.wait_for_log("culled: idle")


@pytest.fixture(scope="module")
def lasting_gateway():
    """Without the idle timeout: a slow machine cannot cull the session between two calls."""
    g = gateway_conftest.Gateway()
    yield g
    g.stop()


def test_a_kernel_deleted_under_the_session_is_replaced(lasting_gateway):
    gateway = lasting_gateway
    session = initialize(gateway)
    before = kernel_ids(gateway)
    assert call(gateway, session, "v = 1")[0] == 200
    (kernel,) = kernel_ids(gateway) - before
    assert gateway.request("DELETE", f"/api/kernels/{kernel}")[0] == 204
    status, body = call(gateway, session, "'v' in dir()")
    assert status == 200
    text = body["result"]["content"][0]["text"]
    assert "previous kernel was gone" in text and "False" in text
    assert kernel not in kernel_ids(gateway)
    gateway.request("DELETE", "/mcp", headers={"Mcp-Session-Id": session})
