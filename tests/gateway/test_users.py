"""Users: HS256 tokens, kernels visible only to their owner, quotas under concurrent requests,
persistent per-user work directories with their own uid, KERNEL_* variables and token limits."""

import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import subprocess
import time

import pytest
import websockets
import asyncio

from conftest import CELLBOX, TOKEN, Gateway
from test_kernel_death import run_cells, stdout
from test_pool import metric, wait_for_pool

# Expiry of the tokens that must be valid: they are made when the tests are collected, and
# a loaded machine may reach the last test of the suite more than ten minutes later.
VALID_UNTIL = int(time.time()) + 86400


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims, secret=TOKEN, header=None):
    """An independent HS256 implementation, to check ours against."""
    head = b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


def user_token(user, **limits):
    claims = {"sub": user, "exp": VALID_UNTIL}
    if limits:
        claims["limits"] = limits
    return jwt(claims)


@pytest.fixture(scope="module")
def gateway():
    g = Gateway("--max-kernels-per-user", "3", "--max-kernels", "5")
    yield g
    g.stop()


def cleanup(gateway):
    for kernel in gateway.request("GET", "/api/kernels")[1]:
        gateway.request("DELETE", f"/api/kernels/{kernel['id']}")


def test_cellbox_token_mints_what_the_server_accepts(gateway):
    minted = subprocess.run([str(CELLBOX), "token", "--user", "carol", "--secret", TOKEN,
                             "--kernels", "1", "--expires-in", "60"],
                            capture_output=True, text=True, check=True).stdout.strip()
    payload = json.loads(base64.urlsafe_b64decode(minted.split(".")[1] + "=="))
    assert payload["sub"] == "carol" and payload["limits"] == {"kernels": 1}
    assert 55 <= payload["exp"] - time.time() <= 61
    head, body, signature = minted.split(".")
    expected = hmac.new(TOKEN.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert signature == b64(expected), "the signature an independent HS256 computes"
    status, body, _ = gateway.request("GET", "/api/kernels", token=minted)
    assert status == 200 and body == []
    bad = subprocess.run([str(CELLBOX), "token", "--user", "../etc", "--secret", "s"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--user" in bad.stderr


@pytest.mark.parametrize("token,message", [
    (None, "authentication required"),
    ("nope", "invalid token"),
    (jwt({"sub": "alice", "exp": int(time.time()) - 120}), "expired"),
    (jwt({"sub": "alice"}), "no expiry"),
    (jwt({"sub": "alice", "exp": VALID_UNTIL}, secret="other"), "signature"),
    (jwt({"sub": "alice", "exp": VALID_UNTIL}, header={"alg": "none"}), "HS256"),
    (jwt({"sub": "admin", "exp": VALID_UNTIL}), "sub"),
    (jwt({"sub": "../../etc", "exp": VALID_UNTIL}), "sub"),
    (jwt({"sub": "alice", "exp": VALID_UNTIL, "limits": {"kernels": "many"}}),
     "limits.kernels"),
    (user_token("alice")[:-4] + "AAAA", "signature"),
])
def test_bad_tokens_are_refused_with_a_reason(gateway, token, message):
    status, body, headers = gateway.request("GET", "/api/kernels", token=token)
    assert status == (401 if token is None else 403)
    assert message in body["message"]
    if token is None:
        assert headers.get("WWW-Authenticate") == "token"


def test_users_see_and_touch_only_their_own_kernels(gateway):
    alice, bob = user_token("alice"), user_token("bob")
    status, kernel, _ = gateway.request("POST", "/api/kernels", {}, token=alice)
    assert status == 201
    kid = kernel["id"]
    assert [k["id"] for k in gateway.request("GET", "/api/kernels", token=alice)[1]] == [kid]
    assert gateway.request("GET", "/api/kernels", token=bob)[1] == []
    for method, path in [("GET", ""), ("DELETE", ""), ("POST", "/interrupt"),
                         ("POST", "/restart")]:
        status, body, _ = gateway.request(method, f"/api/kernels/{kid}{path}", token=bob)
        assert status == 404, (method, path)

    async def bob_connects():
        url = f"ws://127.0.0.1:{gateway.port}/api/kernels/{kid}/channels?token={bob}"
        with pytest.raises(websockets.InvalidStatusCode) as refused:
            async with websockets.connect(url):
                pass
        return refused.value.status_code
    assert asyncio.run(bob_connects()) == 404
    # The admin sees every kernel; the kernel still works for its owner.
    assert kid in [k["id"] for k in gateway.request("GET", "/api/kernels")[1]]
    assert stdout(run_cells(gateway, kid, ["print(6 * 7)"], token=alice)[0][1]) == "42\n"
    cleanup(gateway)


def test_quota_and_global_maximum_hold_under_50_concurrent_posts(gateway):
    tokens = [user_token("alice")] * 25 + [user_token("bob")] * 25

    def post(token):
        return gateway.request("POST", "/api/kernels", {}, token=token)

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        results = list(pool.map(post, tokens))
    created = [r for r in results if r[0] == 201]
    refused = [r for r in results if r[0] == 429]
    assert len(created) == 5 and len(refused) == 45, [r[0] for r in results]
    assert all("most allowed" in r[1]["message"] or "maximum" in r[1]["message"]
               for r in refused)
    owners = [len(gateway.request("GET", "/api/kernels", token=user_token(u))[1])
              for u in ("alice", "bob")]
    assert sorted(owners) == [2, 3]
    cleanup(gateway)


def test_a_kernels_model_shows_its_limits(gateway):
    """The kernel model's `limits` (what the landing page shows): the server's, lowered by the
    token's claims."""
    status, model, _ = gateway.request("POST", "/api/kernels", {}, token=user_token("erin"))
    assert status == 201 and model["limits"]["memory_bytes"] == 1 << 30, model
    assert model["limits"]["cell_timeout"] == 30 and model["limits"]["cell_timeout_cap"] == 0
    token = user_token("frank", memory=256 << 20, cell_timeout=5)
    status, model, _ = gateway.request("POST", "/api/kernels", {}, token=token)
    assert status == 201, model
    status, model, _ = gateway.request("GET", f"/api/kernels/{model['id']}", token=token)
    assert status == 200 and model["limits"] == {"memory_bytes": 256 << 20, "cell_timeout": 5,
                                                 "cell_timeout_cap": 5}, model
    cleanup(gateway)


def test_a_tokens_kernel_limit_lowers_the_servers(gateway):
    token = user_token("dave", kernels=1)
    assert gateway.request("POST", "/api/kernels", {}, token=token)[0] == 201
    status, body, _ = gateway.request("POST", "/api/kernels", {}, token=token)
    assert status == 429 and "(1)" in body["message"]
    raised = user_token("dave", kernels=50)  # cannot raise the server's 3
    assert gateway.request("POST", "/api/kernels", {}, token=raised)[0] == 201
    assert gateway.request("POST", "/api/kernels", {}, token=raised)[0] == 201
    assert gateway.request("POST", "/api/kernels", {}, token=raised)[0] == 429
    cleanup(gateway)


@pytest.mark.parametrize("pool", ["0", "2"], ids=["launched", "pooled"])
def test_work_directories_persist_per_user_with_their_own_uid(tmp_path, pool):
    """/work is the user's directory, owned on disk by the user's own uid whichever way the
    kernel started (a launched kernel runs as that uid; a pooled one sees it through an
    idmapped mount): files survive kernel and gateway restarts and stay writable."""
    work = str(tmp_path / "work")
    alice, bob = user_token("alice"), user_token("bob")
    note = os.path.join(work, "users", "alice", "note.txt")

    def registered_uid(user):
        return json.load(open(os.path.join(work, "users.json")))[user]

    g = Gateway("--pool-size", pool, work_dir=work)
    try:
        if pool != "0":
            wait_for_pool(g)
        kid = g.request("POST", "/api/kernels", {}, token=alice)[1]["id"]
        results = run_cells(g, kid, ["open('/work/note.txt', 'w').write('from alice')\n"
                                     "import os\nprint(os.stat('/work/note.txt').st_uid == "
                                     "os.getuid())"], token=alice)
        assert stdout(results[0][1]) == "True\n", "the user's files are the kernel's own"
        alice_uid = registered_uid("alice")
        assert os.stat(note).st_uid == alice_uid >= 200000
        if pool != "0":
            wait_for_pool(g)
            assert metric(g, "cellbox_pool_takes_total", '{result="hit"}') == 1
        assert g.request("POST", f"/api/kernels/{kid}/restart", token=alice)[0] == 200
        results = run_cells(g, kid, ["open('/work/note.txt', 'a').write(', again')\n"
                                     "print(open('/work/note.txt').read())"], token=alice)
        assert stdout(results[0][1]) == "from alice, again\n", "kept across a kernel restart"
        bob_kid = g.request("POST", "/api/kernels", {}, token=bob)[1]["id"]
        results = run_cells(g, bob_kid, ["import os\nprint(os.listdir('/work'))"], token=bob)
        assert stdout(results[0][1]) == "[]\n"
        assert registered_uid("bob") != alice_uid
    finally:
        g.stop()
    g = Gateway("--pool-size", pool, work_dir=work)  # a new gateway, the same directory
    try:
        if pool != "0":
            wait_for_pool(g)
        kid = g.request("POST", "/api/kernels", {}, token=alice)[1]["id"]
        results = run_cells(g, kid, ["open('/work/note.txt', 'a').write('!')\n"
                                     "print(open('/work/note.txt').read())"], token=alice)
        assert stdout(results[0][1]) == "from alice, again!\n"
        assert registered_uid("alice") == alice_uid
        # On the host while the gateway runs: /work is the user's filesystem image, mounted.
        assert os.stat(note).st_uid == alice_uid
    finally:
        g.stop()


def test_kernel_variables_pass_through_and_nothing_else_does(tmp_path):
    env = dict(os.environ, CELLBOX_TEST_SERVER_SECRET="do-not-leak")
    g = Gateway(env=env)
    try:
        status, body, _ = g.request("POST", "/api/kernels", {"env": {
            "KERNEL_PROJECT": "demo 1", "LD_PRELOAD": "/tmp/evil.so", "PATH": "/tmp"}})
        assert status == 201
        results = run_cells(g, body["id"], [
            "import os\nprint(os.environ.get('KERNEL_PROJECT'), os.environ.get('LD_PRELOAD'), "
            "os.environ.get('CELLBOX_TEST_SERVER_SECRET'), os.environ['PATH'] != '/tmp')"])
        assert stdout(results[0][1]) == "demo 1 None None True\n"
        for bad in ({"KERNEL_bad-name": "x"}, {"KERNEL_X": "line\nbreak"},
                    {"KERNEL_X": "y" * 5000}, {"KERNEL_X": 5}, ["KERNEL_X"]):
            status, body, _ = g.request("POST", "/api/kernels", {"env": bad})
            assert status == 400 and "env" in body["message"], bad
    finally:
        g.stop()


def test_token_limits_lower_the_cell_timeout_and_memory():
    g = Gateway("--cell-timeout", "30", "--memory", "1G")
    try:
        token = user_token("erin", cell_timeout=1, memory="300M")
        kid = g.request("POST", "/api/kernels", {}, token=token)[1]["id"]
        results = run_cells(g, kid, [
            "import time\ntime.sleep(4)",
            "import os\nprint(os.environ['CELLBOX_MEMORY_LIMIT'])"],
            token=token, metadata={"cellbox": {"timeout": 10}})
        assert results[0][0]["content"]["ename"] == "CellTimeoutError"
        assert "1 s" in results[0][0]["content"]["evalue"]
        soft = int(stdout(results[1][1]))
        assert 250 * 2**20 < soft < 300 * 2**20, "a little below the user's 300M, not 1G"
    finally:
        g.stop()
