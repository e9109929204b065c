"""/api/status, the Prometheus /metrics endpoint, and the structured request and kernel logs."""

import asyncio
import json
import re
import time
import urllib.request
import uuid

import pytest
import websockets

from conftest import TOKEN, Gateway, reply_and_outputs
from test_kernel_death import wait_for_state
from test_users import jwt

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse_metrics(text):
    """Text exposition format 0.0.4 -> {(name, frozenset(labels)): value}, checking that every
    sample belongs to a family declared by # TYPE before it and that histograms add up."""
    types, samples = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped")
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, label_text, value = match.groups()
        labels = LABEL.findall(label_text or "")
        assert "".join(f'{k}="{v}",' for k, v in labels).rstrip(",") == (label_text or "")
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or types.get(family) == "histogram", f"undeclared: {line}"
        samples[(name, frozenset(labels))] = float(value)
    for name, kind in types.items():
        if kind != "histogram":
            continue
        buckets = sorted(((float(dict(labels)["le"]), value) for (n, labels), value
                          in samples.items() if n == name + "_bucket"))
        counts = [value for _, value in buckets]
        assert counts == sorted(counts), f"{name} buckets are not cumulative"
        if buckets:
            assert buckets[-1][0] == float("inf")
            assert buckets[-1][1] == samples[(name + "_count", frozenset())]
    return samples


def metric(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(gateway):
    req = urllib.request.Request(gateway.url + "/metrics",
                                 headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as res:
        assert res.status == 200
        assert res.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse_metrics(res.read().decode())


def execute_all(gateway, kernel_id, cells):
    """Runs (code, metadata) cells in order on one WebSocket; returns their replies."""
    session = uuid.uuid4().hex
    replies = []

    async def scenario():
        url = (f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels"
               f"?session_id={session}&token={TOKEN}")
        async with websockets.connect(url, max_size=None) as ws:
            for code, metadata in cells:
                msg_id = uuid.uuid4().hex
                await ws.send(json.dumps({
                    "header": {"msg_id": msg_id, "msg_type": "execute_request",
                               "session": session, "username": "t", "version": "5.3",
                               "date": "2026-01-01T00:00:00.000000Z"},
                    "parent_header": {}, "metadata": metadata, "channel": "shell",
                    "content": {"code": code, "silent": False, "allow_stdin": False,
                                "stop_on_error": False}}))

                async def receive():
                    return json.loads(await ws.recv())

                reply, _ = await reply_and_outputs(receive, msg_id)
                replies.append(reply["content"])

    asyncio.run(scenario())
    return replies


@pytest.fixture(scope="module")
def own_gateway():
    g = Gateway("--cell-timeout", "20")
    yield g
    g.stop()


def test_status_counts_kernels_and_connections(own_gateway):
    status, before, _ = own_gateway.request("GET", "/api/status")
    assert status == 200
    assert before["kernels"] == 0 and before["connections"] == 0
    assert before["kernels_by_state"] == {} and before["version"]
    for field in ("started", "last_activity"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", before[field])
    kernel_id = own_gateway.request("POST", "/api/kernels", {})[1]["id"]
    after = own_gateway.request("GET", "/api/status")[1]
    assert after["kernels"] == 1 and after["kernels_by_state"] == {"idle": 1}
    assert after["started"] == before["started"]
    assert after["last_activity"] > before["last_activity"]

    async def connected():
        url = f"ws://127.0.0.1:{own_gateway.port}/api/kernels/{kernel_id}/channels?token={TOKEN}"
        async with websockets.connect(url):
            await asyncio.sleep(0.2)
            return own_gateway.request("GET", "/api/status")[1]

    assert asyncio.run(connected())["connections"] == 1
    own_gateway.request("DELETE", f"/api/kernels/{kernel_id}")
    assert own_gateway.request("GET", "/api/status")[1]["kernels"] == 0
    assert own_gateway.request("GET", "/api/status", token=None)[0] == 401


def test_status_shows_the_pools_to_any_token(own_gateway):
    """What a start costs now: each pool's kernelspec, kind, ready sessions and size, for a
    user's token too (it says nothing of other tenants), matching the metric."""
    user = jwt({"sub": "alice", "exp": int(time.time()) + 60})
    deadline = time.monotonic() + 60
    while True:
        status, body, _ = own_gateway.request("GET", "/api/status", token=user)
        assert status == 200
        pools = {p["kernelspec"]: p for p in body["pools"]}
        python = pools.get("cellbox-python")
        if python and python["ready"] == python["size"]:
            break
        assert time.monotonic() < deadline, f"the zygote pool did not fill: {body['pools']}"
        time.sleep(0.2)
    assert python["kind"] == "zygote" and python["size"] == 4, python  # --pool-size's default
    ready = scrape(own_gateway)[("cellbox_pool_ready_sessions",
                                  frozenset({("kernelspec", "cellbox-python")}))]
    assert ready == python["ready"]
    assert all(p["kind"] in ("zygote", "launch") for p in body["pools"]), body["pools"]


def test_metrics_requires_the_admin_token(own_gateway):
    assert own_gateway.request("GET", "/metrics", token=None)[0] == 401
    assert own_gateway.request("GET", "/metrics", token="wrong")[0] == 403
    user = jwt({"sub": "alice", "exp": int(time.time()) + 60})
    status, body, _ = own_gateway.request("GET", "/metrics", token=user)
    assert status == 403 and "admin" in body["message"], "a user token does not see /metrics"
    with urllib.request.urlopen(f"{own_gateway.url}/metrics?token={TOKEN}", timeout=30) as res:
        assert res.status == 200


def test_metrics_follow_executions_timeouts_and_deaths(own_gateway):
    before = scrape(own_gateway)
    kernel_id = own_gateway.request("POST", "/api/kernels", {})[1]["id"]
    started = scrape(own_gateway)
    assert metric(started, "cellbox_kernel_start_seconds_count") == \
        metric(before, "cellbox_kernel_start_seconds_count") + 1
    assert metric(started, "cellbox_kernels", state="idle") == 1

    replies = execute_all(own_gateway, kernel_id, [
        ("1 + 1", {}),
        ("x = 2", {}),
        ("1 / 0", {}),
        ("import time\ntime.sleep(5)", {"cellbox": {"timeout": 1}}),
    ])
    assert [r["status"] for r in replies] == ["ok", "ok", "error", "error"]
    assert replies[3]["ename"] == "CellTimeoutError"
    after = scrape(own_gateway)
    assert metric(after, "cellbox_executions_total", status="ok") == \
        metric(before, "cellbox_executions_total", status="ok") + 2
    assert metric(after, "cellbox_executions_total", status="error") == \
        metric(before, "cellbox_executions_total", status="error") + 2
    assert metric(after, "cellbox_execute_seconds_count") == \
        metric(before, "cellbox_execute_seconds_count") + 4
    # The timed-out cell took at least its second: above the 0.5 s bucket, and in the sum.
    assert metric(after, "cellbox_execute_seconds_bucket", le="0.5") <= \
        metric(before, "cellbox_execute_seconds_bucket", le="0.5") + 3
    assert metric(after, "cellbox_execute_seconds_sum") >= \
        metric(before, "cellbox_execute_seconds_sum") + 1.0
    assert metric(after, "cellbox_cell_timeouts_total", kind="soft") == \
        metric(before, "cellbox_cell_timeouts_total", kind="soft") + 1
    assert metric(after, "cellbox_cell_timeouts_total", kind="hard") == \
        metric(before, "cellbox_cell_timeouts_total", kind="hard")
    assert metric(after, "cellbox_http_requests_total", code="2xx") > \
        metric(before, "cellbox_http_requests_total", code="2xx")

    # A kernel killed by a signal: a death, a restart, an execution answered with an error.
    replies = execute_all(own_gateway, kernel_id, [("import os\nos.kill(os.getpid(), 9)", {})])
    assert replies[0]["ename"] == "KernelDied"
    wait_for_state(own_gateway, kernel_id, "idle")
    # A cell that ignores its interruption: killed by the gateway (a hard timeout).
    stubborn = ("import signal, time\nsignal.signal(signal.SIGINT, lambda *a: None)\n"
                "time.sleep(30)")
    replies = execute_all(own_gateway, kernel_id, [(stubborn, {"cellbox": {"timeout": 1}})])
    assert replies[0]["ename"] == "CellTimeoutError"
    wait_for_state(own_gateway, kernel_id, "idle")
    killed = scrape(own_gateway)
    assert metric(killed, "cellbox_kernel_deaths_total", verdict="KernelDied") == \
        metric(after, "cellbox_kernel_deaths_total", verdict="KernelDied") + 1
    assert metric(killed, "cellbox_kernel_deaths_total", verdict="CellTimeoutError") == \
        metric(after, "cellbox_kernel_deaths_total", verdict="CellTimeoutError") + 1
    assert metric(killed, "cellbox_cell_timeouts_total", kind="hard") == \
        metric(after, "cellbox_cell_timeouts_total", kind="hard") + 1
    assert metric(killed, "cellbox_kernel_restarts_total", cause="death") == \
        metric(after, "cellbox_kernel_restarts_total", cause="death") + 2
    assert metric(killed, "cellbox_executions_total", status="error") == \
        metric(after, "cellbox_executions_total", status="error") + 2
    assert metric(killed, "cellbox_kernel_ooms_total") == metric(after, "cellbox_kernel_ooms_total")

    assert own_gateway.request("POST", f"/api/kernels/{kernel_id}/restart", {})[0] == 200
    restarted = scrape(own_gateway)
    assert metric(restarted, "cellbox_kernel_restarts_total", cause="request") == \
        metric(killed, "cellbox_kernel_restarts_total", cause="request") + 1
    own_gateway.request("GET", "/api/kernels/11111111-2222-3333-4444-555555555555")
    own_gateway.request("DELETE", f"/api/kernels/{kernel_id}")
    gone = scrape(own_gateway)
    assert metric(gone, "cellbox_http_requests_total", code="4xx") == \
        metric(restarted, "cellbox_http_requests_total", code="4xx") + 1
    assert metric(gone, "cellbox_kernels", state="idle") == 0


def test_request_and_kernel_logs_without_tokens():
    g = Gateway()
    try:
        kernel_id = g.request("POST", f"/api/kernels?token={TOKEN}", {}, token=None)[1]["id"]
        g.request("GET", "/api/kernels", token="wrong-" + TOKEN)
        g.request("POST", f"/api/kernels/{kernel_id}/interrupt", {})
        g.request("DELETE", f"/api/kernels/{kernel_id}")
    finally:
        g.stop()
    logs = g.logs()
    assert TOKEN not in logs, "a token reached the log"
    requests = [line for line in logs.splitlines() if " msg=request " in line]
    fields = [dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line)) for line in requests]
    post = [f for f in fields if f["method"] == "POST" and f["path"] == "/api/kernels"]
    assert post and post[0]["status"] == "201"
    assert re.fullmatch(r"\d+\.\d{3}", post[0]["duration_ms"])
    assert re.fullmatch(r"127\.0\.0\.1:\d+", post[0]["remote"])
    assert post[0]["level"] == "info" and post[0]["ts"].endswith("Z")
    assert any(f["path"] == "/api/kernels" and f["status"] == "403" for f in fields)
    for event in ("kernel started", "kernel ready", "kernel interrupted", "kernel shut down"):
        assert f'msg="{event}" kernel={kernel_id}' in logs, event
    assert "cellbox serve: " not in logs, "every stderr line is structured"
