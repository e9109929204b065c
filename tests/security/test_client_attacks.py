"""Attacks on the gateway's own clients, `cellbox run --url` and `cellbox mcp --url` (one HTTP
client, gateway/client/): URLs they cannot use, and a hostile gateway that streams an error
body without end or drops the connection the client keeps. Each ends in a clear message and
exit code, with the client's reading bounded; neither client crashes or hangs."""

import http.server
import json
import subprocess
import threading

import nbformat
import pytest

from conftest import CELLBOX

# What a hostile gateway offers at the most; a bounded client stops reading long before.
ENDLESS_CAP = 64 << 20


def notebook_file(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(1)")]
    path = tmp_path / "in.ipynb"
    nbformat.write(nb, str(path))
    return path


def bridge(url, *lines, timeout=60):
    """`cellbox mcp --url URL` given `lines` on stdin: its exit code, stdout's messages, stderr."""
    done = subprocess.run([str(CELLBOX), "mcp", "--url", url, "--token", "t", "--timeout", "30"],
                          input="".join(json.dumps(m) + "\n" for m in lines), capture_output=True,
                          text=True, timeout=timeout)
    return done.returncode, [json.loads(l) for l in done.stdout.splitlines() if l], done.stderr


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "attack", "version": "1"}}}
PING = {"jsonrpc": "2.0", "id": 2, "method": "ping"}


class HostileGateway(http.server.BaseHTTPRequestHandler):
    """`endless`: every POST answered 500 with a body that never ends. `drops`: answers over
    HTTP/1.1 without "Connection: close", then closes the connection anyway."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.server.connections.add(self.client_address[1])  # a port per connection
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if self.server.mode == "endless":
            self.send_response(500)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"E" * 65536
            try:
                while self.server.sent < ENDLESS_CAP:
                    self.wfile.write(chunk)
                    self.server.sent += len(chunk)
            except OSError:
                pass  # the client stopped reading: what this attack wants to see
            self.close_connection = True
            return
        result = {"protocolVersion": "2025-06-18", "capabilities": {},
                  "serverInfo": {"name": "dropper", "version": "1"}} if request.get("id") == 1 else {}
        body = json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Mcp-Session-Id", "s1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True  # without saying so: the client's kept connection dies

    def do_DELETE(self):
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.close_connection = True


@pytest.fixture
def hostile():
    def start(mode):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HostileGateway)
        server.mode, server.sent, server.connections = mode, 0, set()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server, f"http://127.0.0.1:{server.server_address[1]}/"
    servers = []
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("url, reason", [
    ("https://127.0.0.1:8888/", "https is not supported"),
    ("http://127.0.0.1:0/", "port 0 is not between 1 and 65535"),
    ("http://127.0.0.1:70000/", "port 70000 is not between 1 and 65535"),
    ("http://user:pw@127.0.0.1/", "must look like http://HOST[:PORT][/BASE/]"),
    ("javascript:alert(1)", "must look like http://HOST[:PORT][/BASE/]"),
])
def test_urls_the_clients_cannot_use(tmp_path, url, reason):
    """Gives both clients an https, out-of-range or garbage --url."""
    run = subprocess.run([str(CELLBOX), "run", str(notebook_file(tmp_path)), "-o",
                          str(tmp_path / "out.ipynb"), "--url", url, "--token", "t"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 3 and reason in run.stderr, run.stderr
    code, messages, stderr = bridge(url, INITIALIZE)
    assert code == 2 and reason in stderr and messages == [], stderr


def test_endless_error_body_to_cellbox_run(tmp_path, hostile):
    """A gateway answers `cellbox run`'s kernel start with a 500 whose body never ends."""
    server, url = hostile("endless")
    run = subprocess.run([str(CELLBOX), "run", str(notebook_file(tmp_path)), "-o",
                          str(tmp_path / "out.ipynb"), "--url", url, "--token", "t"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 3 and "did not start a kernel (HTTP 500)" in run.stderr, run.stderr
    assert len(run.stderr) < 4000
    # The client stopped at its error budget (64 KiB), socket buffers aside.
    assert server.sent < ENDLESS_CAP // 4, server.sent


def test_endless_error_body_to_cellbox_mcp(hostile):
    """A gateway answers the MCP bridge's initialize with a 500 whose body never ends."""
    server, url = hostile("endless")
    code, messages, _ = bridge(url, INITIALIZE)
    assert code == 0 and len(messages) == 1, messages
    error = messages[0]["error"]
    assert messages[0]["id"] == 1 and "HTTP 500" in error["message"]
    assert len(error["message"]) < 1000
    assert server.sent < ENDLESS_CAP // 4, server.sent


def test_kept_connection_dropped_by_the_gateway(hostile):
    """A gateway closes, unannounced, the connection the MCP bridge keeps between messages."""
    server, url = hostile("drops")
    code, messages, stderr = bridge(url, INITIALIZE, PING)
    assert code == 0, stderr
    # Both answered: the second request went again, once, on a new connection.
    assert [m.get("id") for m in messages] == [1, 2], messages
    assert all("result" in m for m in messages), messages
    assert len(server.connections) == 2
