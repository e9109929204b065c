"""Debian's jupyter_server 1.23 as a real client: `jupyter server --gateway-url` pointed at
cellbox serve, driven through its own REST API and WebSocket. This is the path JupyterLab
and Notebook users take."""

import asyncio
import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import pytest
import websockets

from conftest import TOKEN, free_port, reply_and_outputs

JUPYTER_TOKEN = "jupyter-" + os.urandom(4).hex()


def start_jupyter(gateway_url, *extra):
    """jupyter_server with --gateway-url=`gateway_url`: returns (process, url, port, log)."""
    port = free_port()
    root = tempfile.mkdtemp(prefix="cellbox-jupyter-")
    log = open(os.path.join(root, "jupyter.log"), "w+")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=os.path.join(root, "runtime"),
               JUPYTER_CONFIG_DIR=os.path.join(root, "config"), JUPYTER_DATA_DIR=os.path.join(root, "data"))
    process = subprocess.Popen(
        ["/usr/bin/python3", "-m", "jupyter_server", "--no-browser", "--allow-root",
         f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.token={JUPYTER_TOKEN}",
         f"--ServerApp.root_dir={root}", f"--gateway-url={gateway_url}",
         f"--GatewayClient.auth_token={TOKEN}", *extra],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={JUPYTER_TOKEN}", timeout=5)
            break
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline, "jupyter server did not start"
            assert process.poll() is None, "jupyter server exited"
            time.sleep(0.3)
    return process, url, port, log


def stop_jupyter(process, log):
    process.terminate()
    process.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def jupyter(gateway):
    process, url, port, log = start_jupyter(gateway.url)
    yield url, port
    stop_jupyter(process, log)


def call(url, method, path, body=None):
    req = urllib.request.Request(f"{url}{path}?token={JUPYTER_TOKEN}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as res:
        text = res.read()
        return res.status, json.loads(text) if text else None


def test_kernelspecs_come_from_the_gateway(jupyter):
    url, _ = jupyter
    status, specs = call(url, "GET", "/api/kernelspecs")
    assert status == 200
    assert "cellbox-python" in specs["kernelspecs"]
    assert specs["kernelspecs"]["cellbox-python"]["spec"]["language"] == "python"


def test_start_execute_interrupt_restart_delete_through_jupyter_server(jupyter, gateway):
    url, port = jupyter
    status, model = call(url, "POST", "/api/kernels", {"name": "cellbox-python"})
    assert status == 201
    kernel_id = model["id"]
    assert kernel_id in [k["id"] for k in gateway.request("GET", "/api/kernels")[1]]
    session = uuid.uuid4().hex

    async def execute(ws, code):
        msg_id = uuid.uuid4().hex
        await ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                       "username": "lab", "date": "2026-01-01T00:00:00.000000Z", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "allow_stdin": False,
                        "stop_on_error": False}}))
        async def receive():
            return json.loads(await ws.recv())

        return await reply_and_outputs(receive, msg_id)

    async def scenario():
        ws_url = (f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels"
                  f"?session_id={session}&token={JUPYTER_TOKEN}")
        async with websockets.connect(ws_url) as ws:
            # jupyter_server drops what a client sends before its own connection to the
            # gateway is up, so clients (JupyterLab too) ask for kernel_info until answered.
            for _ in range(60):
                await ws.send(json.dumps({
                    "header": {"msg_id": uuid.uuid4().hex, "msg_type": "kernel_info_request",
                               "session": session, "username": "lab", "version": "5.3",
                               "date": "2026-01-01T00:00:00.000000Z"},
                    "parent_header": {}, "metadata": {}, "content": {}, "channel": "shell"}))
                try:
                    while json.loads(await asyncio.wait_for(ws.recv(), 1))["msg_type"] != "kernel_info_reply":
                        pass
                    break
                except asyncio.TimeoutError:
                    continue
            reply, outputs = await execute(ws, "1 + 1")
            assert reply["content"]["status"] == "ok"
            assert [o["content"]["data"]["text/plain"] for o in outputs
                    if o["msg_type"] == "execute_result"] == ["2"]

            msg_task = asyncio.ensure_future(execute(ws, "import time\ntime.sleep(60)"))
            await asyncio.sleep(1.5)
            status, _ = await asyncio.get_event_loop().run_in_executor(
                None, lambda: call(url, "POST", f"/api/kernels/{kernel_id}/interrupt", {}))
            assert status == 204
            reply, _ = await asyncio.wait_for(msg_task, 30)
            assert reply["content"]["ename"] == "KeyboardInterrupt"

    asyncio.run(scenario())
    status, model = call(url, "POST", f"/api/kernels/{kernel_id}/restart", {})
    assert status == 200 and model["id"] == kernel_id
    status, _ = call(url, "DELETE", f"/api/kernels/{kernel_id}")
    assert status == 204
    deadline = time.monotonic() + 10
    while kernel_id in [k["id"] for k in gateway.request("GET", "/api/kernels")[1]]:
        assert time.monotonic() < deadline, "the gateway still lists the deleted kernel"
        time.sleep(0.1)
