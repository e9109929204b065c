#!/usr/bin/python3
"""Writes the seed corpus of every fuzz target (tests/fuzz/corpus/<target>/): a few realistic
inputs each, in the target's input format. Run it after changing a format; the files are
committed. Inputs that once crashed a target are added to its directory by hand (crash-*)."""

import base64
import hashlib
import hmac
import json
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"
KERNEL = "6f1c3a52-1e0b-4b8e-9f55-0c8f1f2b7d41"


def header(msg_type, session="3f2a"):
    return {"msg_id": "a1b2c3d4e5f6_1", "msg_type": msg_type, "session": session,
            "username": "alice", "date": "2026-01-01T00:00:00.000000Z", "version": "5.3"}


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def v1_frame(parts):
    count = len(parts) + 1
    offsets, position = [], 8 * (count + 1)
    for part in parts:
        offsets.append(position)
        position += len(part)
    offsets.append(position)
    return struct.pack(f"<{count + 1}Q", count, *offsets) + b"".join(parts)


def legacy_binary(message, buffers):
    text = compact(message)
    count = 1 + len(buffers)
    offsets, position = [], 4 * (count + 1)
    for part in [text, *buffers]:
        offsets.append(position)
        position += len(part)
    return struct.pack(f"!{count + 1}I", count, *offsets) + text + b"".join(buffers)


def request(method, target, body, headers):
    return (f"{method} {target} HTTP/1.1\r\nHost: h\r\n".encode() + headers +
            f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)


def chunked(*chunks):
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


EXECUTE = {"code": "import numpy as np\nprint(np.arange(3) * 2)", "silent": False,
           "store_history": True, "user_expressions": {}, "allow_stdin": True,
           "stop_on_error": True}
COMM = {"comm_id": "c0ffee", "data": {"method": "update", "state": {"value": 3.5},
                                     "buffer_paths": [["buffers", 0]]}}


def seeds():
    http = {
        "get-kernels": b"GET /api/kernels HTTP/1.1\r\nHost: 127.0.0.1:8888\r\n"
                       b"Authorization: token abc123\r\n\r\n",
        "post-kernel": request("POST", "/api/kernels",
                               b'{"name": "cellbox-python", "env": {"KERNEL_USERNAME": "alice"}}',
                               b"Content-Type: application/json\r\nAuthorization: Bearer x.y.z"),
        "upgrade": f"GET /api/kernels/{KERNEL}/channels?session_id=3f2a&token=abc%20123 HTTP/1.1\r\n"
                   "Host: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Protocol: v1.kernel.websocket.jupyter.org\r\n"
                   "Origin: https://a.example\r\n\r\n".encode(),
        "preflight": b"OPTIONS /api/sessions HTTP/1.1\r\nHost: h\r\nOrigin: http://localhost:3000\r\n"
                     b"Access-Control-Request-Method: POST\r\n\r\n",
        "post-session-chunked": b"POST /api/sessions HTTP/1.1\r\nHost: h\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n"
                                + chunked(b'{"path": "a.ipynb", "type": ',
                                          b'"notebook", "kernel": {"name": "x"}}'),
    }
    v1 = {
        "execute": v1_frame([b"shell", compact(header("execute_request")), b"{}",
                             compact({"cellbox": {"timeout": 30}}), compact(EXECUTE)]),
        "kernel-info": v1_frame([b"control", compact(header("kernel_info_request")), b"{}",
                                 b"{}", b"{}"]),
        "comm-buffer": v1_frame([b"shell", compact(header("comm_msg")), b"{}", b"{}",
                                 compact(COMM), b"\x00\x01\x02\x03"]),
    }
    legacy = {
        "execute": b"\x00" + compact({"header": header("execute_request"), "parent_header": {},
                                      "metadata": {}, "content": EXECUTE, "channel": "shell",
                                      "buffers": []}),
        "input-reply": b"\x00" + compact({"header": header("input_reply"), "parent_header":
                                          header("input_request"), "metadata": {},
                                          "content": {"value": "\u00e9t\u00e9"},
                                          "channel": "stdin"}),
        "comm-binary": b"\x01" + legacy_binary({"header": header("comm_msg"), "parent_header": {},
                                                "metadata": {}, "content": COMM,
                                                "channel": "shell"}, [b"\x00\xff" * 8]),
    }
    json_check = {
        "header": compact(header("stream")),
        "content": compact({"name": "stdout", "text": "line \"1\"\n\u00e9\u20ac\U0001F600\t"}),
        "display": compact({"data": {"text/plain": "[1, 2]", "application/json": {
            "a": [1, -2.5e-3, True, False, None, {"b": []}]}}, "metadata": {}}),
        "escapes": b'{"s": "\\ud83d\\ude00 \\u00e9 \\/ \\\\ \\b\\f\\n\\r\\t"}',
    }
    claims = {"sub": "alice", "exp": 4102444800, "limits": {"kernels": 2, "memory": "512M",
                                                            "cell_timeout": 30}}
    other = hmac.new(b"other", b"x", hashlib.sha256).digest()
    token = b".".join([b64url(b'{"alg":"HS256","typ":"JWT"}'), b64url(compact(claims)),
                       b64url(other)])
    jwt = {
        "token": b"\x00" + token,
        "claims": b"\x01" + compact(claims),
        "claims-nbf": b"\x01" + compact({"sub": "bob.smith@example", "exp": 4102444800,
                                         "nbf": 1000, "limits": {"memory": 268435456}}),
        "header": b"\x02" + b'{"alg":"HS256","typ":"JWT","kid":"k1"}',
    }
    parent = compact(header("execute_request"))
    wire = {
        "stream-signed": b"\x01" + b"\x00".join([
            b"<IDS|MSG>", b"", compact(header("stream")), parent, b"{}",
            compact({"name": "stdout", "text": "hello\n"})]),
        "reply-identities": b"\x01" + b"\x00".join([
            b"client-3f2a", b"<IDS|MSG>", b"", compact(header("execute_reply")), parent,
            compact({"started": "2026-01-01T00:00:00Z"}),
            compact({"status": "ok", "execution_count": 3, "user_expressions": {}})]),
        "unsigned-buffers": b"\x00" + b"\x00".join([
            b"<IDS|MSG>", b"", compact(header("comm_msg")), b"{}", b"{}", compact(COMM),
            b"\x01\x02\x03"]),
    }
    config = {
        "shipped": (ROOT / "share/cellbox/cellbox.toml").read_bytes(),
        "small": b'port = 0\nmemory = "512M"\ncell_timeout = 30.5\n'
                 b'kernelspec_path = ["/opt/a", "/opt/b"]\nallow_origin = "*"\n',
    }
    policy = {
        "default": (ROOT / "share/cellbox/policies/default.toml").read_bytes(),
        "small": b'hostname = "box"\nrequired = ["seccomp", "pid_namespace"]\n'
                 b'[limits]\nmemory = "256M"\npids = 64\ncpus = 0.5\n'
                 b'[environment]\nHOME = "/work"\n',
    }
    late_binding = {
        "idmapped": compact({"workdir": "/var/lib/cellbox/users/alice", "owner_uid": 200007,
                             "owner_gid": 200007, "memory": "1073741824"}),
        "memory-only": compact({"memory": 2147483648}),
        "empty": b"{}",
    }
    zygote = {
        "spawn-pooled": compact({"op": "spawn", "id": 4, "ipc_dir": "/tmp/cb/k1",
                                 "connection_file": "/tmp/cb/k1/connection.json",
                                 "verdict_file": "/tmp/cb/k1/verdict.json",
                                 "memory": "1073741824"}),
        "spawn-script": compact({"op": "spawn", "id": 5, "workdir": "/tmp/w", "uid": 100005,
                                 "pids": 64.0, "cpu_time": 2.5,
                                 "script": {"code": "print(1)", "argv": ["a"]}}),
        "go": compact({"op": "go", "id": 6, "pid": 4242, "workdir": "/srv/u/alice",
                       "owner_uid": 200001, "memory": "536870912"}),
        "kill": compact({"op": "kill", "id": 7, "pid": 4242}),
    }
    static_path = {
        "widget": b"embed/cellbox-embed.js", "landing": b"landing/index.html",
        "example": b"examples/embed/token_helper.py", "dot-dot": b"../secret.txt",
        "encoded-dot-dot": b"%2e%2E%2fsecret.txt", "nul": b"app.js%00.png", "hidden": b".git/config",
        "empty-segment": b"a//b", "backslash": b"a\\..\\b", "bad-escape": b"x%zz%4",
        "space": b"a%20b/c+d.js",
    }
    content_path = {
        "file": b"/a/f.txt",
        "root": b"/",
        "encoded": b"/a%20b/c%2Bd.ipynb",
        "dotdot": b"/../../etc/passwd",
        "encoded-dotdot": b"/%2e%2e/%2E%2E%2Fetc%2fpasswd",
        "link-dir": b"/up/secret",
        "link-parent": b"/a/parent/up/secret",
        "link-file": b"pw",
        "double-encoded": b"/%252e%252e/x",
        "nul": b"/a%00b",
    }
    ec = {"kty": "EC", "crv": "P-256", "kid": "e1", "use": "sig", "alg": "ES256",
          "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
          "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
    rsa_n = base64.urlsafe_b64encode(b"\xc3" + bytes(range(255))).rstrip(b"=").decode()
    jwks = {
        "ec": compact({"keys": [ec]}),
        "rsa": compact({"keys": [{"kty": "RSA", "kid": "r1", "n": rsa_n, "e": "AQAB"}]}),
        "mixed": compact({"keys": [ec, {"kty": "oct", "k": "c2VjcmV0"},
                                   {"kty": "EC", "use": "enc", "crv": "P-256"}]}),
        "bad-types": compact({"keys": [{"kty": 5, "crv": ["P-256"]}]}),
    }
    def fields(*parts):
        return b"\0".join(p if isinstance(p, bytes) else compact(p) for p in parts)

    execute = {
        "body": compact({"code": "print(1)", "timeout": 5, "stdin": ["a"],
                         "store_history": False, "max_output_bytes": 100}),
        "one-shot": compact({"code": "1", "kernel": "cellbox-python",
                             "files": {"a/b.txt": "x", "../c": "y"}}),
        "messages": fields(
            {"code": "1"},
            b"iopub", {"msg_type": "stream"}, {"name": "stdout", "text": "z" * 300}, {},
            b"iopub", {"msg_type": "display_data"},
            {"data": {"image/png": "AAAA", "text/plain": "x"}, "transient": {"display_id": "d"}},
            {},
            b"iopub", {"msg_type": "update_display_data"},
            {"data": {"text/plain": "y"}, "transient": {"display_id": "d"}}, {},
            b"iopub", {"msg_type": "clear_output"}, {"wait": True}, {},
            b"shell", {"msg_type": "execute_reply", "session": "k"},
            {"status": "error", "ename": "CellTimeoutError", "traceback": ["a"]},
            {"cellbox": {"cpu_ms": 1}},
            b"iopub", {"msg_type": "status"}, {"execution_state": "idle"}, {}),
    }
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3"}},
          "cells": [{"cell_type": "markdown", "id": "m1", "metadata": {}, "source": ["# T\n", "x"]},
                    {"cell_type": "code", "id": "p1", "metadata": {"tags": ["parameters"]},
                     "source": "a = 1", "execution_count": 3,
                     "outputs": [{"output_type": "stream", "name": "stdout", "text": "1"}]},
                    {"cell_type": "raw", "metadata": {}, "source": ""}]}
    old = {"nbformat": 4, "nbformat_minor": 4, "metadata": {},
           "cells": [{"cell_type": "code", "metadata": {"tags": ["injected-parameters"]},
                      "source": "", "outputs": [], "execution_count": None}]}
    notebook = {
        "with-parameters": fields(nb, b"a", b"2", b"name", b'x"\n\x01', b"f", b"1e5",
                                  b"n", b"None", b"class", b"1"),
        "v44-injected": fields(old, b"z", b"-Infinity", b"big", b"123456789012345678901234"),
        "json-parameters": fields(nb, compact({"a": [1, {"b": "x\"y\n"}], "c": None,
                                               "d": 1.5e300})),
        "not-notebook": fields({"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": 1}]}),
    }
    return {"fuzz_notebook_parse": notebook, "fuzz_http_request": http, "fuzz_content_path": content_path, "fuzz_jwks": jwks,
            "fuzz_execute_request": execute, "fuzz_websocket_v1": v1,
            "fuzz_websocket_legacy": legacy, "fuzz_json_check": json_check, "fuzz_jwt": jwt,
            "fuzz_wire_codec": wire, "fuzz_config": config, "fuzz_policy": policy,
            "fuzz_late_binding": late_binding, "fuzz_zygote_request": zygote,
            "fuzz_static_path": static_path}


def main():
    for target, inputs in seeds().items():
        directory = CORPUS / target
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in inputs.items():
            (directory / f"seed-{name}").write_bytes(data)


if __name__ == "__main__":
    main()
