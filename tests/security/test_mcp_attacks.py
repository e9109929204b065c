"""Attacks on the MCP endpoint ({base_url}mcp): another tenant's Mcp-Session-Id, missing and
forged session ids, malformed JSON-RPC (not JSON, deep nesting, huge bodies, wrong types,
batch bombs), foreign Origins (DNS rebinding), path escapes through the file tools, and
session floods. Each is refused with a clear 4xx or a JSON-RPC error (and a log line), and the
victim's session keeps its kernel and state."""

import json

import pytest

from conftest import ADMIN_TOKEN, Gateway, user_token

MAX_BODY = 200_000
MAX_SESSIONS = 3
PROTOCOL = "2025-06-18"


@pytest.fixture(scope="module")
def gateway():
    g = Gateway("--max-message-bytes", str(MAX_BODY),
                "--mcp-max-sessions-per-user", str(MAX_SESSIONS))
    yield g
    g.stop()


class McpClient:
    """A tenant speaking MCP over plain HTTP, as an SDK would (urllib underneath)."""

    def __init__(self, gateway, user):
        self.gateway = gateway
        self.token = user_token(user)
        self.session = None

    def post(self, message, session=None, headers=None, raw=None):
        all_headers = {"Content-Type": "application/json",
                       "Accept": "application/json, text/event-stream"}
        sid = session if session is not None else self.session
        if sid:
            all_headers["Mcp-Session-Id"] = sid
        all_headers.update(headers or {})
        body = raw if raw is not None else json.dumps(message).encode()
        return self.gateway.request("POST", "/mcp", body, token=self.token, headers=all_headers)

    def initialize(self):
        status, body, headers = self.post({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": PROTOCOL, "capabilities": {},
                       "clientInfo": {"name": "attack", "version": "1"}}}, session="")
        return status, body, headers.get("Mcp-Session-Id")

    def start(self):
        status, _, sid = self.initialize()
        assert status == 200 and sid, status
        self.session = sid
        return self

    def call(self, tool, arguments, session=None):
        status, body, _ = self.post({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                                     "params": {"name": tool, "arguments": arguments}},
                                    session=session)
        return status, body

    def delete(self):
        return self.gateway.request("DELETE", "/mcp", token=self.token,
                                    headers={"Mcp-Session-Id": self.session})


@pytest.fixture(scope="module")
def victim(gateway):
    v = McpClient(gateway, "mcp-victim").start()
    status, body = v.call("execute_code", {"code": "secret = 'victim-data'\nsecret"})
    assert status == 200 and "victim-data" in json.dumps(body["result"])
    return v


@pytest.fixture(scope="module")
def attacker(gateway):
    return McpClient(gateway, "mcp-attacker")


def victim_intact(victim):
    status, body = victim.call("execute_code", {"code": "secret"})
    assert status == 200 and "victim-data" in body["result"]["content"][0]["text"]


def test_other_users_session_id(gateway, victim, attacker):
    """Uses another tenant's Mcp-Session-Id to run code in their kernel and to end it."""
    status, body = attacker.call("execute_code", {"code": "secret"}, session=victim.session)
    assert status == 404 and "victim-data" not in json.dumps(body)
    assert body["error"]["code"] == -32600 and "Session not found" in body["error"]["message"]
    status, _, _ = gateway.request("DELETE", "/mcp", token=attacker.token,
                                   headers={"Mcp-Session-Id": victim.session})
    assert status == 404
    victim_intact(victim)
    assert gateway.wait_for_log("Session not found")


@pytest.mark.parametrize("sid", ["", "0" * 32, "../../etc", "x" * 5000, "%00"])
def test_bad_session_ids(gateway, attacker, sid):
    """Sends requests without a session, with forged ones and with absurd ones."""
    status, body = attacker.call("execute_code", {"code": "1"}, session=sid or "")
    if sid == "":
        # McpClient sends no header for an empty id: 400, the session is required
        assert status == 400 and "Mcp-Session-Id" in body["error"]["message"]
    else:
        assert status in (400, 404, 431), status


def test_no_token(gateway):
    """Talks MCP without a token, and with a wrong one."""
    for token in (None, "wrong-token"):
        status, _, headers = gateway.request("POST", "/mcp", {
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": PROTOCOL}}, token=token,
            headers={"Content-Type": "application/json"})
        assert status in (401, 403)


@pytest.mark.parametrize("raw,code", [
    (b"{not json", -32700),
    (b"[" * 100_000 + b"]" * 100_000, -32700),           # nesting past the depth limit
    (b"[]", -32600),                                      # empty batch
    (json.dumps([{"jsonrpc": "2.0", "id": i, "method": "ping"} for i in range(2000)]).encode(),
     -32600),                                             # batch bomb
    (b'"a string"', -32600),
    (b'{"jsonrpc": "1.0", "id": 1, "method": "ping"}', -32600),
    (b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}', -32600),
    (b'{"jsonrpc": "2.0", "id": 1.5, "method": "ping"}', -32600),
    (b'{"jsonrpc": "2.0", "id": 1, "method": 42}', -32600),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": [1]}', -32602),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 5}}',
     -32602),
], ids=["not-json", "deep-nesting", "empty-batch", "batch-bomb", "string", "jsonrpc-1.0",
        "object-id", "float-id", "number-method", "array-params", "number-version"])
def test_malformed_json_rpc(gateway, attacker, raw, code):
    """Sends broken, deeply nested, mistyped and batched JSON-RPC."""
    status, body, _ = attacker.post(None, session="", raw=raw)
    assert status == 400, (status, body)
    assert body["jsonrpc"] == "2.0" and body["error"]["code"] == code


def test_errors_echo_ids_with_their_type(gateway, victim):
    """Checks that ids keep their type and unknown methods/tools are JSON-RPC errors."""
    status, body, _ = victim.post({"jsonrpc": "2.0", "id": "str-id", "method": "nope/nope"})
    assert status == 200 and body["id"] == "str-id" and body["error"]["code"] == -32601
    status, body, _ = victim.post({"jsonrpc": "2.0", "id": 99, "method": "tools/call",
                                   "params": {"name": "rm_rf", "arguments": {}}})
    assert body["id"] == 99 and body["error"]["code"] == -32602
    status, body, _ = victim.post({"jsonrpc": "2.0", "method": "notifications/whatever"})
    assert status == 202


def test_wrong_argument_types_are_tool_errors(gateway, victim):
    """Sends tools/call with arguments of the wrong type and unknown arguments."""
    for tool, arguments in [("execute_code", {"code": 5}), ("execute_code", {"code": "1", "timeout": -1}),
                            ("execute_code", {"code": "1", "timeout": "1e999"}),
                            ("read_file", {}), ("write_file", {"path": "a"}),
                            ("restart_kernel", {"now": True}), ("list_files", [1, 2])]:
        status, body = victim.call(tool, arguments)
        assert status == 200 and body["result"]["isError"], (tool, arguments, body)
    victim_intact(victim)


def test_huge_body(gateway, attacker):
    """Sends an MCP body larger than the gateway's request limit."""
    raw = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"' + b"a" * (MAX_BODY * 2) + b'"}}'
    status, _, _ = attacker.post(None, session="", raw=raw)
    assert status == 413


def test_bad_origin(gateway, victim):
    """Posts from a foreign web page's Origin (DNS rebinding), with a valid token and session."""
    status, body, _ = victim.post({"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                  headers={"Origin": "http://evil.example"})
    assert status == 403 and "evil.example" in body["message"]
    status, _, _ = victim.post({"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                               headers={"Origin": f"http://127.0.0.1:{gateway.port}"})
    assert status == 200


def test_bad_protocol_version_header(gateway, victim):
    """Sends an MCP-Protocol-Version the server does not speak."""
    status, body, _ = victim.post({"jsonrpc": "2.0", "id": 1, "method": "ping"},
                                  headers={"MCP-Protocol-Version": "1999-01-01"})
    assert status == 400 and "MCP-Protocol-Version" in body["error"]["message"]


def test_wrong_content_type_and_get(gateway, victim):
    """Sends form data instead of JSON, and opens the server stream with GET."""
    status, _, _ = victim.post(None, raw=b"a=b", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415
    status, _, headers = gateway.request("GET", "/mcp", token=victim.token,
                                         headers={"Accept": "text/event-stream",
                                                  "Mcp-Session-Id": victim.session})
    assert status == 405 and "POST" in headers.get("Allow", "")


@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "/work/../etc/passwd",
                                  "a/../../x", "%2e%2e/x", "/proc/self/environ", "\x00",
                                  ".." + "/" * 3000 + "x", "/work/../../root/.bashrc"],
                         ids=["dotdot", "absolute", "work-dotdot", "inner-dotdot", "encoded",
                              "proc", "nul", "many-slashes", "work-root"])
def test_path_escapes_through_file_tools(gateway, victim, path):
    """Reads, writes and lists outside /work through the file tools."""
    for tool, arguments in [("read_file", {"path": path}), ("list_files", {"path": path}),
                            ("write_file", {"path": path, "content": "pwned"})]:
        status, body = victim.call(tool, arguments)
        assert status == 200, body
        result = body["result"]
        text = result["content"][0]["text"]
        if not result["isError"]:
            # "%2e%2e/x" is a plain name in the contents rules: written inside /work, fine
            assert tool == "write_file" and path == "%2e%2e/x", (tool, path, text)
        assert "root:" not in text and ADMIN_TOKEN not in text


def test_symlink_out_of_work(gateway, victim):
    """Plants a symlink to /etc/passwd in /work with a cell, then reads and writes it with the tools."""
    status, body = victim.call("execute_code", {"code": "import os\nos.symlink('/etc/passwd', '/work/link')"})
    assert status == 200
    for tool, arguments in [("read_file", {"path": "link"}), ("write_file", {"path": "link", "content": "x"})]:
        status, body = victim.call(tool, arguments)
        assert body["result"]["isError"] and "root:" not in json.dumps(body)


def test_session_flood_is_bounded(gateway):
    """Opens many MCP sessions as one user to make the gateway hold unbounded state."""
    flooder = McpClient(gateway, "mcp-flooder")
    statuses = [flooder.initialize()[0] for _ in range(MAX_SESSIONS + 5)]
    assert statuses[:MAX_SESSIONS] == [200] * MAX_SESSIONS
    assert set(statuses[MAX_SESSIONS:]) == {429}
    assert gateway.wait_for_log("too many MCP sessions")
    # another user is not affected by this one's flood
    assert McpClient(gateway, "mcp-bystander").initialize()[0] == 200


def test_deleted_session_is_gone(gateway):
    """Reuses a session id after DELETE ended it."""
    c = McpClient(gateway, "mcp-deleter").start()
    assert c.call("execute_code", {"code": "1"})[0] == 200
    status, _, _ = c.delete()
    assert status == 204
    status, body = c.call("execute_code", {"code": "1"})
    assert status == 404
    assert c.delete()[0] == 404


def test_wrong_types_inside_initialize(gateway):
    """Sends initialize with clientInfo fields of the wrong type (nlohmann's value() would throw)."""
    c = McpClient(gateway, "mcp-typer")
    for client_info in ({"name": 5}, {"name": {"a": [1]}}, "x", None):
        status, body, headers = c.post({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                        "params": {"protocolVersion": PROTOCOL,
                                                   "clientInfo": client_info}}, session="")
        assert status in (200, 429), body
        if status == 200:
            c.session = headers["Mcp-Session-Id"]
            assert c.delete()[0] == 204
    assert gateway.process.poll() is None


def test_huge_file_read_is_cut(gateway, victim):
    """Reads a text file larger than a model's context through read_file."""
    # under this gateway's --max-message-bytes (the contents API's file limit), over 64 KiB
    status, body = victim.call("execute_code", {"code": "open('/work/big.txt', 'w').write('A' * 75_000 + 'Z' * 75_000)"})
    assert status == 200 and not body["result"]["isError"]
    status, body = victim.call("read_file", {"path": "big.txt"})
    text = body["result"]["content"][0]["text"]
    assert status == 200 and not body["result"]["isError"], text[:500]
    assert len(text) < 70_000 and text.startswith("A") and text.endswith("Z")  # cut in the middle
    assert "cut" in text.lower()
