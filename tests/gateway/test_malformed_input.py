"""Malformed input battery: bad REST requests, raw TCP garbage, and broken WebSocket frames in
both framings. Each is refused or dropped with a log line; afterwards the server still answers
and the same kernel still computes 1 + 1."""

import asyncio
import json
import os
import socket
import struct
import uuid

import pytest
import websockets

from conftest import TOKEN, Gateway, reply_and_outputs, v1_frame

V1 = "v1.kernel.websocket.jupyter.org"
CAP = 1 << 20  # --max-message-bytes for this module


@pytest.fixture(scope="module")
def gateway():
    g = Gateway("--max-message-bytes", str(CAP))
    yield g
    g.stop()


@pytest.fixture(scope="module")
def kernel_id(gateway):
    status, model, _ = gateway.request("POST", "/api/kernels", {})
    assert status == 201
    return model["id"]


def header(msg_type, session="battery"):
    return {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": session,
            "username": "test", "date": "2026-01-01T00:00:00.000000Z", "version": "5.3"}


def v1_message(channel, head, content=None):
    return v1_frame([channel.encode(), json.dumps(head).encode(), b"{}", b"{}",
                     json.dumps(content or {}).encode()])


def raw_exchange(gateway, data, timeout=5):
    """Sends `data` on a fresh TCP connection, half-closes, returns what came back."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=timeout) as sock:
        received = b""
        try:  # the server may drop the connection before reading everything: fine
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):
                received += chunk
        except (OSError, socket.timeout):
            pass
        return received


def test_rest_requests_that_are_malformed(gateway, kernel_id):
    post = lambda body: gateway.request("POST", "/api/kernels", body)  # noqa: E731
    assert post(b"{not json")[0] == 400
    assert post(b"[1, 2, 3]")[0] == 400
    assert post(b"\xff\xfe\x00garbage")[0] == 400
    assert post({"name": 5})[0] == 400
    assert post({"env": ["A=1"]})[0] == 400
    status, body, _ = post({"name": "no-such-kernel"})
    assert status == 404 and "no-such-kernel" in body["message"]
    assert post(b"x" * (2 * CAP))[0] == 413
    for bad in ["not-an-id", "11111111-2222-3333-4444-555555555555", "%2e%2e%2f%2e%2e",
                "a-b-c-d-e", "x" * 5000]:
        assert gateway.request("GET", f"/api/kernels/{bad}")[0] == 404, bad
    assert gateway.request("GET", "/api/nothing-here")[0] == 404
    assert gateway.request("GET", "/nothing-at-all")[0] == 404
    assert gateway.request("PUT", "/api/kernels", {})[0] == 405
    assert gateway.request("DELETE", "/api/kernelspecs")[0] == 405
    assert gateway.request("POST", "/api/kernelspecs/cellbox-python", {})[0] == 405
    assert gateway.request("PATCH", f"/api/kernels/{kernel_id}", {})[0] == 405
    assert gateway.request("GET", f"/api/kernels/{kernel_id}/interrupt")[0] == 405


def test_raw_tcp_garbage_and_truncated_http(gateway):
    raw_exchange(gateway, os.urandom(4096))
    raw_exchange(gateway, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a TLS hello
    raw_exchange(gateway, b"GET /api HTTP/1.1\r\nHost: x\r\n")  # headers never end
    raw_exchange(gateway, b"POST /api/kernels HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: 100\r\n\r\n{\"na")  # body cut short
    raw_exchange(gateway, b"GET /api HTTP/9.9\r\n\r\n")
    raw_exchange(gateway, b"GET " + b"/a" * 20000 + b" HTTP/1.1\r\n\r\n")
    answer = raw_exchange(gateway, b"POST /api/kernels HTTP/1.1\r\nHost: x\r\n"
                                   b"Authorization: token " + TOKEN.encode() +
                                   b"\r\nContent-Length: 99999999999\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    assert gateway.request("GET", "/api")[0] == 200


def test_broken_websocket_frames_are_dropped_with_a_log_line(gateway, kernel_id):
    url = f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels?token={TOKEN}"
    good = header("kernel_info_request")
    bad_v1 = [
        b"\x06\x00\x00",                                     # truncated offset count
        struct.pack("<Q", 6) + b"\x00" * 10,                 # truncated offset table
        struct.pack("<7Q", 6, 56, 61, 9999, 9999, 9999, 9999),  # offsets out of range
        struct.pack("<7Q", 6, 56, 50, 51, 52, 53, 54) + b"x" * 10,  # offsets going backwards
        struct.pack("<Q", 1 << 62) + b"\x00" * 64,           # absurd count
        v1_frame([b"shell", b"not json", b"{}", b"{}", b"{}"]),
        v1_frame([b"shell", json.dumps(good).encode(), b"[]", b"{}", b"{}"]),
        v1_message("bogus", good),                           # unknown channel
        v1_message("iopub", good),                           # clients do not send on iopub
        v1_message("shell", {k: v for k, v in good.items() if k != "msg_type"}),
        v1_message("shell", {**good, "msg_type": 42}),
        v1_message("shell", {**good, "msg_id": None}),
        os.urandom(300),
        "a text frame on the v1 protocol",
    ]
    bad_legacy = [
        "not json",
        "[1, 2]",
        json.dumps({"channel": "shell", "content": {}}),     # no header
        json.dumps({"header": "a string", "channel": "shell"}),
        json.dumps({"header": good, "channel": 5}),
        json.dumps({"header": good, "channel": "bogus"}),
        json.dumps({"header": {"msg_id": "x"}, "channel": "shell"}),  # no msg_type
        json.dumps({"header": {"msg_id": "x", "msg_type": ["a"]}, "channel": "shell"}),
        json.dumps({"header": good, "content": "not an object", "channel": "shell"}),
        json.dumps({"header": good, "metadata": {"cellbox": "x"}, "channel": "shell",
                    "content": {"code": 1}, "parent_header": {}})[:-2],  # cut short
        b"\xff\xff\xff\xff\x00\x00",                          # legacy binary, absurd count
        struct.pack("!3I", 2, 12, 99999) + b"{}",            # legacy binary, bad offset
        os.urandom(300),
    ]

    async def scenario():
        before = gateway.logs().count("dropped a WebSocket frame")
        async with websockets.connect(url + "&session_id=v1", subprotocols=[V1]) as ws:
            for frame in bad_v1:
                await ws.send(frame)
            await ws.ping()
        async with websockets.connect(url + "&session_id=legacy") as ws:
            for frame in bad_legacy:
                await ws.send(frame)
            await ws.ping()
        await asyncio.sleep(0.5)
        dropped = gateway.logs().count("dropped a WebSocket frame") - before
        assert dropped == len(bad_v1) + len(bad_legacy), gateway.logs()[-3000:]

        # Odd but valid: an execute_request whose metadata.cellbox is not an object.
        async with websockets.connect(url + "&session_id=odd") as ws:
            msg = {"header": header("execute_request", "odd"), "parent_header": {},
                   "metadata": {"cellbox": "fast please"}, "channel": "shell",
                   "content": {"code": "3 * 3", "silent": False}}
            await ws.send(json.dumps(msg))
            reply, outputs = await reply_and_outputs(lambda: recv_json(ws),
                                                     msg["header"]["msg_id"], 30)
            assert reply["content"]["status"] == "ok"

    asyncio.run(scenario())


async def recv_json(ws):
    return json.loads(await ws.recv())


def test_an_oversized_frame_closes_the_connection(gateway, kernel_id):
    url = f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels?token={TOKEN}"

    async def scenario():
        async with websockets.connect(url + "&session_id=big") as ws:
            # The server may close while the frame is still being sent: either way it closes.
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                await ws.send(json.dumps({"header": header("execute_request"), "channel": "shell",
                                          "content": {"code": "#" + "x" * (2 * CAP)}}))
                for _ in range(100):
                    await asyncio.wait_for(ws.recv(), 10)
            assert ws.close_code in (1009, 1006)

    asyncio.run(scenario())
    # Logged when the gateway's read ends, which may be after the client saw the close.
    assert gateway.wait_for_log("WebSocket frame too large")


def test_after_the_battery_the_kernel_still_computes(gateway, kernel_id):
    url = (f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels"
           f"?session_id=after&token={TOKEN}")
    assert gateway.process.poll() is None, "the gateway crashed"
    assert gateway.request("GET", "/api")[0] == 200

    async def scenario():
        async with websockets.connect(url) as ws:
            msg = {"header": header("execute_request", "after"), "parent_header": {},
                   "metadata": {}, "channel": "shell",
                   "content": {"code": "1 + 1", "silent": False}}
            await ws.send(json.dumps(msg))
            reply, outputs = await reply_and_outputs(lambda: recv_json(ws),
                                                     msg["header"]["msg_id"], 30)
            assert reply["content"]["status"] == "ok"
            assert [o["content"]["data"]["text/plain"] for o in outputs
                    if o["msg_type"] == "execute_result"] == ["2"]

    asyncio.run(scenario())
    status, model, _ = gateway.request("GET", f"/api/kernels/{kernel_id}")
    assert status == 200 and model["execution_state"] != "dead"
