"""Smaller holes: kernelspec files without a token, WebSockets from other sites' pages,
session ids ZeroMQ cannot take, and two gateways on one host handing out the same uids."""

import asyncio
import json
import os
import subprocess
import tempfile
import urllib.parse
import uuid

import pytest
import websockets

from conftest import ADMIN_TOKEN, CELLBOX, Gateway, user_token


def channels_url(gateway, kernel_id, token, session_id=None):
    query = {"token": token}
    if session_id is not None:
        query["session_id"] = session_id
    return (f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels?"
            + urllib.parse.urlencode(query))


def start_kernel(gateway, token):
    status, model, _ = gateway.request("POST", "/api/kernels", {}, token=token)
    assert status == 201, model
    return model["id"]


def run_code(gateway, kernel_id, token, code, origin=None):
    """Runs `code` in the kernel over the legacy framing; returns its stdout."""
    async def scenario():
        async with websockets.connect(channels_url(gateway, kernel_id, token, uuid.uuid4().hex),
                                      origin=origin, max_size=None) as ws:
            msg_id = uuid.uuid4().hex
            await ws.send(json.dumps({
                "channel": "shell", "parent_header": {}, "metadata": {}, "buffers": [],
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": "s",
                           "username": "u", "version": "5.3", "date": "2026-01-01T00:00:00Z"},
                "content": {"code": code, "silent": False, "allow_stdin": False}}))
            out, idle = "", False
            while not idle:
                m = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if m["parent_header"].get("msg_id") != msg_id:
                    continue
                if m["msg_type"] == "stream":
                    out += m["content"]["text"]
                idle = m["msg_type"] == "status" and m["content"]["execution_state"] == "idle"
            return out
    return asyncio.run(scenario())


def upgrade_status(url, origin=None):
    """The HTTP status the gateway answers a WebSocket upgrade with (101: accepted)."""
    async def scenario():
        try:
            async with websockets.connect(url, origin=origin):
                return 101
        except websockets.exceptions.InvalidStatusCode as refused:
            return refused.status_code
    return asyncio.run(scenario())


def test_kernelspec_files_need_a_token(gateway):
    """Reads kernel.json (argv, host paths) and a logo through /kernelspecs without a token."""
    path = "/kernelspecs/cellbox-python/kernel.json"
    assert gateway.request("GET", path, token=None)[0] == 401
    assert gateway.request("GET", path, token="wrong")[0] == 403
    assert gateway.request("GET", path, token=user_token("alice"))[0] == 200
    _, specs, _ = gateway.request("GET", "/api/kernelspecs")
    for resource in specs["kernelspecs"]["cellbox-python"]["resources"].values():
        assert gateway.request("GET", resource, token=None)[0] == 401, resource
        # As JupyterLab loads logos: the token in the URL.
        status = gateway.request("GET", f"{resource}?token={ADMIN_TOKEN}", token=None)[0]
        assert status == 200, resource


def test_other_sites_pages_cannot_open_websockets_by_default(gateway):
    """Another site's page opens the channels WebSocket with a tenant's token (no --allow-origin)."""
    token = user_token("alice")
    kernel_id = start_kernel(gateway, token)
    url = channels_url(gateway, kernel_id, token, uuid.uuid4().hex)
    try:
        assert upgrade_status(url, origin="https://evil.example") == 403
        assert upgrade_status(url, origin="null") == 403
        assert upgrade_status(url, origin=f"http://127.0.0.1:{gateway.port + 1}") == 403
        assert upgrade_status(url, origin=f"http://127.0.0.1:{gateway.port}") == 101
        assert upgrade_status(url) == 101  # not a browser
    finally:
        gateway.request("DELETE", f"/api/kernels/{kernel_id}", token=token)


def test_unusable_session_ids_are_refused_and_the_kernel_lives_on(gateway):
    """Session ids of 300 bytes, led by NUL, or with spaces: ZeroMQ refuses such routing ids."""
    token = user_token("alice")
    kernel_id = start_kernel(gateway, token)
    try:
        assert run_code(gateway, kernel_id, token, "x = 41") == ""
        bad_ids = ["a" * 300, "\0abc", "a b", "caf\u00e9"]
        answers = [upgrade_status(channels_url(gateway, kernel_id, token, bad)) for bad in bad_ids]
        status, model, _ = gateway.request("GET", f"/api/kernels/{kernel_id}", token=token)
        assert status == 200, "the user's kernel is gone"
        assert model["execution_state"] not in ("dead", "restarting")
        assert run_code(gateway, kernel_id, token, "print(x + 1)") == "42\n", "the kernel lost its state"
        assert answers == [400] * len(bad_ids)
    finally:
        gateway.request("DELETE", f"/api/kernels/{kernel_id}", token=token)


def kernel_uid(gateway, token):
    kernel_id = start_kernel(gateway, token)
    try:
        return int(run_code(gateway, kernel_id, token, "import os; print(os.getuid())"))
    finally:
        gateway.request("DELETE", f"/api/kernels/{kernel_id}", token=token)


@pytest.mark.skipif(os.geteuid() != 0, reason="uids are handed out by a root gateway only")
def test_two_gateways_on_one_host_never_share_uids():
    """A second gateway on the same host hands out the sandbox uids the first one uses."""
    first, second = Gateway(), Gateway()
    try:
        token = user_token("alice")
        uids = [kernel_uid(g, token) for g in (first, second)]
        assert uids[0] != uids[1], "both gateways run sessions as the same uid"
        owners = [json.load(open(os.path.join(g.work_dir, "users.json")))["alice"]
                  for g in (first, second)]
        assert owners[0] != owners[1], "alice of one gateway owns files as alice of the other"
        # A third gateway on the first one's work dir would reuse its users' uids: refused.
        runtime = tempfile.mkdtemp(prefix="cellbox-gw-")
        third = subprocess.run(
            [str(CELLBOX), "serve", "--port", "0", "--token", ADMIN_TOKEN, "--runtime-dir",
             os.path.join(runtime, "run"), "--work-dir", first.work_dir],
            capture_output=True, text=True, timeout=60)
        assert third.returncode != 0 and "http://" not in third.stdout
        assert f"pid {first.process.pid}" in third.stderr, third.stderr[-2000:]
    finally:
        first.stop()
        second.stop()
