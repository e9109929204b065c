"""How kernel messages flow to WebSocket clients: replay after a reconnect, the per-cell output
cap, iopub rate limits, pings, and a client that stops reading."""

import asyncio
import base64
import json
import os
import socket
import struct
import time
import uuid

import websockets

from conftest import TOKEN, Gateway, reply_and_outputs


def header(msg_type, session):
    return {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": session,
            "username": "test", "date": "2026-01-01T00:00:00.000000Z", "version": "5.3"}


def execute_request(code, session):
    return {"header": header("execute_request", session), "parent_header": {}, "metadata": {},
            "content": {"code": code, "silent": False, "allow_stdin": False}, "channel": "shell"}


def start_kernel(gateway):
    status, model, _ = gateway.request("POST", "/api/kernels", {})
    assert status == 201
    return model["id"]


def channels_url(gateway, kernel_id, session):
    return (f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels"
            f"?session_id={session}&token={TOKEN}")


async def run(ws, code, session, timeout=60):
    msg = execute_request(code, session)
    await ws.send(json.dumps(msg))
    return await reply_and_outputs(lambda: receive(ws), msg["header"]["msg_id"], timeout)


async def receive(ws):
    return json.loads(await ws.recv())


def stream_text(outputs, name="stdout"):
    return "".join(o["content"]["text"] for o in outputs
                   if o["msg_type"] == "stream" and o["content"]["name"] == name)


def test_a_cell_that_finishes_while_disconnected_is_replayed_on_reconnect():
    gateway = Gateway()
    try:
        kernel_id = start_kernel(gateway)
        session = uuid.uuid4().hex

        async def scenario():
            url = channels_url(gateway, kernel_id, session)
            async with websockets.connect(url) as ws:
                msg = execute_request(
                    "import time\nprint('started', flush=True)\ntime.sleep(2)\n"
                    "print('finished')\n6 * 7", session)
                await ws.send(json.dumps(msg))
                while True:  # the cell is running: leave mid-cell
                    m = await asyncio.wait_for(receive(ws), 30)
                    if m["msg_type"] == "stream":
                        break
            await asyncio.sleep(3)  # it finishes while nobody is connected
            async with websockets.connect(url) as ws:
                reply, outputs = await reply_and_outputs(lambda: receive(ws),
                                                         msg["header"]["msg_id"], 30)
                assert reply["content"]["status"] == "ok"
                assert "finished\n" in stream_text(outputs)
                assert [o["content"]["data"]["text/plain"] for o in outputs
                        if o["msg_type"] == "execute_result"] == ["42"]
                # Live traffic follows the replay.
                reply, outputs = await run(ws, "1 + 1", session)
                assert [o["content"]["data"]["text/plain"] for o in outputs
                        if o["msg_type"] == "execute_result"] == ["2"]

        asyncio.run(scenario())
        assert gateway.wait_for_log("replaying")
    finally:
        gateway.stop()


def test_the_replay_buffer_is_discarded_after_its_timeout():
    gateway = Gateway("--replay-timeout", "1.5")
    try:
        kernel_id = start_kernel(gateway)
        session = uuid.uuid4().hex

        async def scenario():
            url = channels_url(gateway, kernel_id, session)
            async with websockets.connect(url) as ws:
                first = execute_request("import time\ntime.sleep(0.3)\nprint('late')", session)
                await ws.send(json.dumps(first))
            await asyncio.sleep(4)  # the cell's messages are buffered, then discarded
            async with websockets.connect(url) as ws:
                second = execute_request("'fresh'", session)
                await ws.send(json.dumps(second))
                seen = []
                while not (seen and seen[-1]["parent_header"].get("msg_id") ==
                           second["header"]["msg_id"] and seen[-1]["msg_type"] == "status"
                           and seen[-1]["content"]["execution_state"] == "idle"):
                    seen.append(await asyncio.wait_for(receive(ws), 30))
                assert not [m for m in seen
                            if m["parent_header"].get("msg_id") == first["header"]["msg_id"]]

        asyncio.run(scenario())
        assert gateway.wait_for_log("did not reconnect, buffer discarded")
    finally:
        gateway.stop()


def test_output_over_the_cap_is_discarded_with_one_notice():
    gateway = Gateway("--max-output-bytes", "10000")
    try:
        kernel_id = start_kernel(gateway)
        session = uuid.uuid4().hex

        async def scenario():
            async with websockets.connect(channels_url(gateway, kernel_id, session),
                                          max_size=None) as ws:
                reply, outputs = await run(
                    ws, "for i in range(200):\n    print('x' * 999, flush=True)\n'end'", session)
                assert reply["content"]["status"] == "ok"
                assert len(stream_text(outputs)) <= 10000
                notices = [o for o in outputs if o["msg_type"] == "stream"
                           and "output limit of 10000 bytes reached" in o["content"]["text"]]
                assert len(notices) == 1
                assert notices[0]["content"]["name"] == "stderr"
                assert not [o for o in outputs if o["msg_type"] == "execute_result"]
                # The next cell has its own budget; the kernel carries on.
                reply, outputs = await run(ws, "1 + 1", session)
                assert [o["content"]["data"]["text/plain"] for o in outputs
                        if o["msg_type"] == "execute_result"] == ["2"]

        asyncio.run(scenario())
        assert gateway.wait_for_log("passed the output limit")
    finally:
        gateway.stop()


def test_iopub_message_rate_limit_sends_one_notice_and_resumes():
    gateway = Gateway("--iopub-msg-rate-limit", "20", "--rate-limit-window", "1")
    try:
        kernel_id = start_kernel(gateway)
        session = uuid.uuid4().hex

        async def scenario():
            async with websockets.connect(channels_url(gateway, kernel_id, session)) as ws:
                reply, outputs = await run(
                    ws, "from IPython.display import display\nfor i in range(300):\n"
                        "    display(i)", session)
                assert reply["content"]["status"] == "ok"
                shown = [o for o in outputs if o["msg_type"] == "display_data"]
                assert 0 < len(shown) < 300
                notices = [o for o in outputs if o["msg_type"] == "stream"
                           and o["content"]["text"].startswith("IOPub message rate exceeded")]
                assert len(notices) == 1
                # Counters reset on idle: the next cell's output arrives.
                reply, outputs = await run(ws, "1 + 1", session)
                assert [o["content"]["data"]["text/plain"] for o in outputs
                        if o["msg_type"] == "execute_result"] == ["2"]

        asyncio.run(scenario())
    finally:
        gateway.stop()


def raw_websocket(gateway, kernel_id, session, rcvbuf=None):
    """A bare TCP WebSocket client: it sees pings and never answers or reads unless told."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", gateway.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /api/kernels/{kernel_id}/channels?session_id={session}&token={TOKEN} "
                  f"HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(1)
        assert chunk, "closed during the handshake"
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def read_frame(sock):
    """(opcode, payload), or None when the connection is closed."""
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data
    head = exactly(2)
    if head is None:
        return None
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", exactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", exactly(8))[0]
    payload = exactly(length)
    return (head[0] & 0x0F, payload) if payload is not None else None


def test_pings_keep_a_connection_alive_and_silent_peers_are_closed():
    gateway = Gateway("--ws-ping-interval", "0.5")
    try:
        kernel_id = start_kernel(gateway)

        # A peer that never answers: it is pinged, then closed.
        sock = raw_websocket(gateway, kernel_id, "mute")
        sock.settimeout(10)
        started = time.time()
        frames = []
        while True:
            frame = read_frame(sock)
            if frame is None or frame[0] == 0x8:
                break
            frames.append(frame)
        sock.close()
        assert any(opcode == 0x9 for opcode, _ in frames), "no ping was sent"
        assert time.time() - started < 5
        assert gateway.wait_for_log("did not answer pings")

        # A peer that answers pings (websockets does) stays connected while idle.
        session = uuid.uuid4().hex

        async def scenario():
            async with websockets.connect(channels_url(gateway, kernel_id, session),
                                          ping_interval=None) as ws:
                await asyncio.sleep(3)  # six ping intervals without a frame from the client
                reply, outputs = await run(ws, "1 + 1", session)
                assert reply["content"]["status"] == "ok"

        asyncio.run(scenario())
    finally:
        gateway.stop()


def test_a_client_that_stops_reading_is_dropped_without_slowing_the_others():
    gateway = Gateway("--ws-max-outbox-bytes", "4000000", "--max-output-bytes", "0")
    try:
        kernel_id = start_kernel(gateway)
        stalled = raw_websocket(gateway, kernel_id, "stalled", rcvbuf=4096)
        session = uuid.uuid4().hex

        async def scenario():
            async with websockets.connect(channels_url(gateway, kernel_id, session),
                                          max_size=None) as ws:
                await asyncio.sleep(0.3)
                started = time.time()
                # 20 MB at a pace a reading client keeps up with; the stalled one cannot. The
                # sanitized gateway (-O0, AddressSanitizer) relays a 100 kB message several
                # times slower: at 10 MB/s the reading client fell behind it for over a second
                # and was rightly dropped, so it gets a fifth of the pace.
                pause = 0.05 if os.environ.get("CELLBOX_SANITIZED") == "1" else 0.01
                reply, outputs = await run(
                    ws, "import time\nfor i in range(200):\n    print('y' * 99999, flush=True)\n"
                        f"    time.sleep({pause})", session,
                    timeout=120)
                assert reply["content"]["status"] == "ok"
                assert len(stream_text(outputs)) == 200 * 100000, "the reading client lost output"
                return time.time() - started

        elapsed = asyncio.run(scenario())
        assert elapsed < 60
        assert gateway.wait_for_log("WebSocket client not reading")
        stalled.close()
        # Under AddressSanitizer the RSS measures its quarantine and shadow memory, not what
        # the gateway holds (tests/security/test_memory_amplification.py skips for the same).
        if os.environ.get("CELLBOX_SANITIZED") != "1":
            rss = int(next(line.split()[1] for line in open(f"/proc/{gateway.process.pid}/status")
                           if line.startswith("VmRSS:")))
            assert rss < 300 * 1024, f"gateway RSS {rss} kB"
    finally:
        gateway.stop()
