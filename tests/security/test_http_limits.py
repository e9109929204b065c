"""Attacks on the HTTP front before and around authentication: big bodies without a token,
oversized bodies with one, connection floods and clients that send slowly."""

import socket
import threading
import time

from conftest import ADMIN_TOKEN, Gateway, user_token

MIB = 1 << 20


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def connect(gateway, source="127.0.0.1", timeout=30):
    """A TCP connection to the gateway from `source` (any 127.x.y.z is this host: a test can
    be several clients)."""
    return socket.create_connection(("127.0.0.1", gateway.port), timeout=timeout,
                                    source_address=(source, 0))


def response_head(sock):
    """The status line and headers the gateway answered on `sock` (b"" if it closed first or
    said nothing before the socket's timeout)."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    return data.split(b"\r\n\r\n")[0]


def read_response(sock):
    """(head, body) of the gateway's answer on `sock`; (b"", b"") if it closed first."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return b"", b""
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return head, body
    except (ConnectionResetError, socket.timeout):
        return b"", b""


def authorized(request, token=ADMIN_TOKEN):
    """A raw request (headers only) with an Authorization header added."""
    return request.replace(b"\r\n\r\n", b"\r\nAuthorization: token " + token.encode() + b"\r\n\r\n")


def wait_closed_by_server(sock, timeout):
    """True once the gateway closed `sock` (EOF or reset) within `timeout` seconds."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_unauthenticated_bodies_are_not_read():
    """Six connections without a token each send a 63 MiB body to grow the gateway."""
    g = Gateway("--pool-size", "0", "--launch-pool-size", "0")
    try:
        before = rss_bytes(g.process.pid)
        body_size = 63 * MIB
        answers, threads, socks = {}, [], []

        def send_body(sock):
            chunk = b"x" * MIB
            try:  # all but the last byte: a server that reads bodies still holds them all
                for _ in range(62):
                    sock.sendall(chunk)
                sock.sendall(chunk[:-1])
            except OSError:
                pass  # the gateway stopped reading: fine

        def read_answer(i, sock):
            answers[i] = response_head(sock)

        for i in range(6):
            sock = connect(g, timeout=20)
            sock.sendall(b"POST /api/kernels HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % body_size)
            socks.append(sock)
            threads += [threading.Thread(target=send_body, args=(sock,)),
                        threading.Thread(target=read_answer, args=(i, sock))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        grown = rss_bytes(g.process.pid) - before
        for sock in socks:
            sock.close()
        assert grown < 64 * MIB, f"the gateway grew by {grown / MIB:.0f} MiB"
        assert len(answers) == 6
        for answer in answers.values():
            # Answered on the header alone, while the body was still on its way.
            assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
            assert b"connection: close" in answer.lower()
        assert g.request("GET", "/api")[0] == 200
    finally:
        g.stop()


def test_a_huge_declared_body_without_a_token_gets_401_not_413(gateway):
    """A request without a token declares a 99 GB body, probing the server's limits."""
    with connect(gateway) as sock:
        sock.sendall(b"POST /api/kernels HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n")
        head, body = read_response(sock)
        assert head.startswith(b"HTTP/1.1 401"), head


def test_an_oversized_body_with_a_token_gets_413():
    """A tenant sends bodies over max_message_bytes, declared and chunked."""
    g = Gateway("--max-message-bytes", str(MIB))
    token = user_token("mallory")
    post = b"POST /api/sessions HTTP/1.1\r\nHost: x\r\n"
    try:
        with connect(g) as sock:  # refused on the declared length, before any of the body
            sock.sendall(authorized(post + b"Content-Length: %d\r\n\r\n" % (2 * MIB), token))
            head, body = read_response(sock)
            assert head.startswith(b"HTTP/1.1 413") and b"max_message_bytes" in body, head
        with connect(g) as sock:  # chunked: refused once the chunks pass the limit
            sock.sendall(authorized(post + b"Transfer-Encoding: chunked\r\n\r\n", token))
            try:
                for _ in range(3):
                    sock.sendall(b"%x\r\n" % MIB + b"x" * MIB + b"\r\n")
            except OSError:
                pass
            head, body = read_response(sock)
            assert head.startswith(b"HTTP/1.1 413") and b"max_message_bytes" in body, head
        assert g.request("GET", "/api/kernels", token=token)[0] == 200
    finally:
        g.stop()


def test_one_address_cannot_take_every_connection():
    """One client address opens connections until the gateway has none left for others."""
    g = Gateway("--max-connections-per-ip", "8", "--max-connections", "12")
    get = authorized(b"GET /api HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        held = [connect(g, "127.0.0.2") for _ in range(8)]
        held[-1].sendall(get)  # accepted in order: the 8th answering means all 8 are counted
        assert response_head(held[-1]).startswith(b"HTTP/1.1 200")
        with connect(g, "127.0.0.2") as extra:
            extra.sendall(get)
            answer = response_head(extra)
            assert answer.startswith(b"HTTP/1.1 503") or answer == b"", answer[:200]
        # Another address still gets in, up to the total.
        others = [connect(g, "127.0.0.3") for _ in range(4)]
        for sock in others:
            sock.sendall(get)
            assert response_head(sock).startswith(b"HTTP/1.1 200")
        with connect(g, "127.0.0.4") as over_total:
            over_total.sendall(get)
            answer = response_head(over_total)
            assert answer.startswith(b"HTTP/1.1 503") or answer == b"", answer[:200]
        for sock in held + others:
            sock.close()
        # Places come back when connections close.
        deadline = time.monotonic() + 30
        while True:
            with connect(g, "127.0.0.2") as sock:
                sock.sendall(get)
                if response_head(sock).startswith(b"HTTP/1.1 200"):
                    break
            assert time.monotonic() < deadline, "closed connections never gave their place back"
            time.sleep(0.2)
        assert g.request("GET", "/api")[0] == 200
        assert g.wait_for_log("connections refused")
    finally:
        g.stop()


def test_half_sent_requests_time_out_and_do_not_stop_others():
    """2000 connections from 10 addresses each send half a header and then nothing."""
    g = Gateway("--http-header-timeout", "3")
    loris = []
    try:
        for i in range(2000):
            sock = connect(g, f"127.0.1.{i % 10 + 1}")
            sock.sendall(b"GET /api HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            loris.append(sock)
        assert g.request("GET", "/api")[0] == 200  # served while they all wait
        # ... and the gateway hangs up on each of them (the header timeout, not the client).
        deadline = time.monotonic() + 60
        still_open = [s for s in loris
                      if not wait_closed_by_server(s, max(0.1, deadline - time.monotonic()))]
        assert not still_open, f"{len(still_open)} half-sent requests still held"
    finally:
        for sock in loris:
            sock.close()
        g.stop()


def test_a_slow_body_times_out():
    """A tenant sends a request body a few bytes at a time, then stops, to hold a connection."""
    g = Gateway("--http-body-timeout", "2")
    try:
        with connect(g) as sock:
            sock.sendall(authorized(b"POST /api/sessions HTTP/1.1\r\nHost: x\r\n"
                                    b"Content-Length: 100\r\n\r\n", user_token("mallory"))
                         + b'{"pa')
            assert wait_closed_by_server(sock, 60)
        assert g.request("GET", "/api")[0] == 200
    finally:
        g.stop()
