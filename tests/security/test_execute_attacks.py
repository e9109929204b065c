"""Attacks on the execute API (POST /api/kernels/{id}/execute, .../executions/{id},
POST /api/execute): another tenant's executions, oversized and deeply nested bodies, hostile
Accept headers, and floods meant to make the gateway hold unbounded memory. Each is refused
with a clear 4xx (and a log line) or bounded, and the victim's kernel keeps its state."""

import http.client
import json

import pytest

from conftest import ADMIN_TOKEN, Gateway
from test_deep_json import Tenant as KernelTenant

MAX_BODY = 200_000
MAX_EXECUTIONS = 3
MAX_OUTPUT = 50_000


@pytest.fixture(scope="module")
def gateway():
    g = Gateway("--max-message-bytes", str(MAX_BODY),
                "--max-executions-per-kernel", str(MAX_EXECUTIONS),
                "--execute-max-output-bytes", str(MAX_OUTPUT),
                "--execute-max-image-bytes", str(MAX_OUTPUT))
    yield g
    g.stop()


class Tenant(KernelTenant):
    """A user with one kernel of their own, speaking the execute API."""

    def execute(self, body, kernel=None, headers=None):
        return self.gateway.request("POST", f"/api/kernels/{kernel or self.kernel}/execute",
                                    body, token=self.token, headers=headers)

    def stream(self, code):
        """An NDJSON execution left open; returns the response (headers read)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.gateway.port, timeout=60)
        conn.request("POST", f"/api/kernels/{self.kernel}/execute",
                     body=json.dumps({"code": code}).encode(),
                     headers={"Authorization": f"token {self.token}",
                              "Accept": "application/x-ndjson"})
        res = conn.getresponse()
        res.conn = conn
        return res


@pytest.fixture(scope="module")
def victim(gateway):
    v = Tenant(gateway, "exec-victim")
    status, body, _ = v.execute({"code": "secret = 'victim-data'\nsecret"})
    assert status == 200 and body["status"] == "ok"
    v.execution = body["execution_id"]
    return v


@pytest.fixture(scope="module")
def attacker(gateway):
    return Tenant(gateway, "exec-attacker")


def victim_intact(victim):
    body = victim.execute({"code": "secret"})[1]
    return body["result"] == {"text/plain": "'victim-data'"}


def test_another_tenants_execution_id_on_their_kernel(gateway, victim, attacker):
    """Reads and interrupts the victim's execution through the victim's kernel id."""
    path = f"/api/kernels/{victim.kernel}/executions/{victim.execution}"
    for method in ("GET", "DELETE"):
        status, answer, _ = gateway.request(method, path, token=attacker.token)
        assert status == 404
        assert "victim-data" not in json.dumps(answer)
    status, _, _ = attacker.execute({"code": "secret"}, kernel=victim.kernel)
    assert status == 404
    assert victim_intact(victim)


def test_another_tenants_execution_id_on_own_kernel(gateway, victim, attacker):
    """Replays the victim's execution id under the attacker's own kernel."""
    path = f"/api/kernels/{attacker.kernel}/executions/{victim.execution}"
    status, answer, _ = gateway.request("GET", path, token=attacker.token)
    assert status == 404 and "victim-data" not in json.dumps(answer)


def test_path_tricks_in_execution_ids(gateway, attacker):
    """Reaches other routes or files through encoded and dotted execution ids."""
    for suffix in ("..%2F..%2Fkernels", "../../kernels", "%00", "A" * 32, "a" * 4000):
        status, _, _ = gateway.request(
            "GET", f"/api/kernels/{attacker.kernel}/executions/{suffix}", token=attacker.token)
        assert status in (400, 404)


def test_huge_body(gateway, attacker):
    """Sends a body over the server's request limit."""
    status, _, _ = attacker.execute({"code": "x = '" + "a" * (2 * MAX_BODY) + "'"})
    assert status == 413


def test_huge_stdin_and_file_lists(gateway, attacker):
    """Sends more stdin lines and files than the API accepts."""
    status, answer, _ = attacker.execute({"code": "1", "stdin": [""] * 10001})
    assert status == 400 and "stdin" in answer["message"]
    status, answer, _ = gateway.request(
        "POST", "/api/execute", {"code": "1", "files": {f"f{i}": "" for i in range(1001)}},
        token=attacker.token)
    assert status == 400 and "files" in answer["message"]


def test_deep_json_body(gateway, attacker, victim):
    """Sends 100 000 nested arrays as the body and as a field."""
    depth = 50_000
    for body in ("[" * depth + "]" * depth,
                 '{"code": "1", "stdin": ' + "[" * depth + "]" * depth + "}"):
        status, answer, _ = attacker.execute(body.encode(),
                                             headers={"Content-Type": "application/json"})
        assert status == 400, answer
    assert victim_intact(victim)


@pytest.mark.parametrize("accept", ["image/png", "text/html", "x" * 6000, "*/x;;;,,"])
def test_bad_accept(gateway, attacker, accept):
    """Asks for formats the API does not speak, or sends a garbage Accept header."""
    status, _, _ = attacker.execute({"code": "1"}, headers={"Accept": accept})
    assert status in (400, 406, 431)


def test_many_running_executions_are_refused_not_held(gateway, attacker):
    """Starts more executions at once than a kernel may keep, to make the gateway hold them."""
    opened = [attacker.stream("import time\ntime.sleep(0.5)") for _ in range(MAX_EXECUTIONS)]
    assert all(res.status == 200 for res in opened)
    status, answer, _ = attacker.execute({"code": "1"})
    assert status == 429 and "executions running" in answer["message"]
    for res in opened:
        res.read()
    # Once they end, the oldest finished ones make room: the kernel is usable again.
    for _ in range(2 * MAX_EXECUTIONS):
        status, body, _ = attacker.execute({"code": "2"})
        assert status == 200 and body["status"] == "ok"
    assert gateway.wait_for_log("execution refused")


def test_output_flood_is_bounded(gateway, attacker):
    """Prints 20 MB and shows 20 MB of images to make the gateway keep them per execution."""
    code = ("import sys\nfor _ in range(20):\n    sys.stdout.write('y' * 1_000_000)\n"
            "from IPython.display import display\n"
            "for _ in range(20):\n    display({'image/png': 'A' * 1_000_000}, raw=True)")
    status, body, _ = attacker.execute({"code": code, "max_output_bytes": 10**12,
                                        "max_image_bytes": 10**12})
    assert status == 200 and body["status"] == "ok"
    assert len(json.dumps(body)) < 3 * MAX_OUTPUT + 20_000
    assert body["truncated"] is True
    # What the gateway's per-cell output cap (16 MiB) let through, all of it, cut to the budget:
    # reading that much can take the gateway longer than the lost-idle grace after the reply
    # (it did under AddressSanitizer, which ended the execution with 10 MB counted), so the
    # grace counts from the execution's last message, and nothing the kernel sent is missing.
    assert body["usage"]["cut_bytes"] + body["usage"]["cut_image_bytes"] > 15_000_000
    assert "without its idle status" not in gateway.logs()
    assert "idle status lost" not in gateway.logs()


def test_unknown_fields_are_refused_and_logged(gateway, attacker):
    """Smuggles settings in unknown fields (a kernel's metadata, another user)."""
    status, answer, _ = attacker.execute({"code": "1", "metadata": {"cellbox": {"timeout": 0}}})
    assert status == 400 and "metadata" in answer["message"]
    status, answer, _ = attacker.execute({"code": "1", "user": "admin"})
    assert status == 400 and "user" in answer["message"]
    assert gateway.wait_for_log("bad execute request")


def test_admin_token_still_works_and_gateway_alive(gateway, victim):
    """After every attack: the gateway answers and the victim's state is there."""
    assert gateway.request("GET", "/api/status", token=ADMIN_TOKEN)[0] == 200
    assert victim_intact(victim)
