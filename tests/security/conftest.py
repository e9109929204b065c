"""The adversarial gateway suite: the gateway's counterpart of the sandbox's escape probes.

Every test here is one attack, made as a tenant holding a user token or as code in a cell;
its docstring's first line says what the attacker tries. Each asserts containment (the attack
fails with a clear 4xx, a dropped frame or an error inside the cell) and that the gateway, the
other users and their work are unaffected. At the end the suite prints the table of attacks.

The gateway under attack comes from the gateway suite's `Gateway` (tests/gateway/conftest.py),
loaded under its own name, as tests/browser does, so the two conftests never clash.
"""

import asyncio
import base64
import hashlib
import hmac
import importlib.util
import json
import pathlib
import time
import uuid

import pytest
import websockets

HERE = pathlib.Path(__file__).resolve().parent


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gateway_support = _load("gateway_conftest", HERE.parent / "gateway" / "conftest.py")
Gateway = gateway_support.Gateway
ADMIN_TOKEN = gateway_support.TOKEN  # the admin token every test gateway is started with
CELLBOX = gateway_support.CELLBOX
free_port = gateway_support.free_port
v1_frame = gateway_support.v1_frame

# Rows of the attack table: (attack, who attacks, outcome, contained)
ATTACKS = []


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims, secret=ADMIN_TOKEN, header=None, algorithm=hashlib.sha256):
    """A JWT signed with HMAC (HS256 by default) over any header and claims: the tool of
    token-forgery attacks as well as of honest tenants."""
    head = b64url(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), algorithm).digest()
    return f"{head}.{body}.{b64url(signature)}"


def user_token(user, secret=ADMIN_TOKEN, **limits):
    """A tenant's token: what a SaaS mints for one of its users."""
    claims = {"sub": user, "exp": int(time.time()) + 600}
    if limits:
        claims["limits"] = limits
    return jwt(claims, secret)


def run_cell(gateway, kernel_id, token, code, metadata=None):
    """Runs `code` in the kernel on a legacy WebSocket; returns (stdout, error or None): the
    error output's ename and evalue joined by ': '. Waits, as jupyter_client does, for both the
    execute_reply and the idle status: they come on two sockets in no fixed order, and until
    the reply has passed, the gateway counts the cell as pending (hibernation refuses it)."""
    session = uuid.uuid4().hex

    async def scenario():
        url = (f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels"
               f"?session_id={session}&token={token}")
        async with websockets.connect(url, max_size=None) as ws:
            msg_id = uuid.uuid4().hex
            await ws.send(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                           "username": "x", "version": "5.3",
                           "date": "2026-01-01T00:00:00.000000Z"},
                "parent_header": {}, "metadata": metadata or {}, "channel": "shell",
                "content": {"code": code, "silent": False, "allow_stdin": False,
                            "stop_on_error": True}}))
            out, error, replied, idle = "", None, False, False
            while not (replied and idle):
                m = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if m["parent_header"].get("msg_id") != msg_id:
                    continue
                if m["msg_type"] == "stream":
                    out += m["content"]["text"]
                if m["msg_type"] == "error":
                    error = f'{m["content"]["ename"]}: {m["content"]["evalue"]}'
                replied = replied or m["msg_type"] == "execute_reply"
                idle = idle or (m["msg_type"] == "status"
                                and m["content"]["execution_state"] == "idle")
            return out, error

    return asyncio.run(scenario())


def pytest_collection_modifyitems(items):
    for item in items:
        doc = (item.function.__doc__ or "").strip().splitlines()
        assert doc, f"{item.nodeid}: every attack says what it tries in its docstring"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        who = "cell" if item.get_closest_marker("as_cell") else "tenant"
        what = item.function.__doc__.strip().splitlines()[0]
        ATTACKS.append((item.name, who, what, report.outcome))


def pytest_configure(config):
    config.addinivalue_line("markers", "as_cell: the attack is made by code in a cell")


def pytest_terminal_summary(terminalreporter):
    if not ATTACKS:
        return
    write = terminalreporter.write_line
    write("")
    write("Adversarial gateway suite")
    write(f"{'attack':<52} {'as':<7} contained")
    for name, who, what, outcome in ATTACKS:
        contained = {"passed": "yes", "skipped": "skip"}.get(outcome, "NO")
        write(f"{name[:52]:<52} {who:<7} {contained:<5} {what[:90]}")
    contained = sum(1 for row in ATTACKS if row[3] == "passed")
    write(f"{contained} of {len(ATTACKS)} attacks contained")


@pytest.fixture(scope="module")
def gateway():
    g = Gateway()
    yield g
    g.stop()
    assert g.process.returncode == 0, "the gateway did not survive the attacks:\n" + g.logs()[-3000:]
