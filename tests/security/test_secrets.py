"""Attacks on the gateway's secrets from inside a session: the admin token, the JWT secret and
whatever else the gateway's environment held must not be anywhere a cell can read, in any of
the three ways a kernel starts (forked by the zygote, launched on demand, prespawned by a
launch pool): not in the process's own argument and environment areas (a forked zygote
session inherits the zygote's stack), not in /proc, not anywhere in its memory, not in a file."""

import base64
import os

import pytest

from conftest import ADMIN_TOKEN, Gateway, user_token
from in_cell import (KERNEL_MODES, run_cell, run_json_cell, start_gateway_for, start_kernel,
                     wait_for_pool)

JWT_SECRET = "jwt-secret-" + os.urandom(8).hex()
# Anything else the gateway was started with: a deployment's database password, say.
HOST_SECRET = "host-secret-" + os.urandom(8).hex()
SECRETS = {"admin token": ADMIN_TOKEN, "JWT secret": JWT_SECRET, "host secret": HOST_SECRET}


def halves(secret):
    """The secret cut in two: the cell looks for the halves side by side, so that the cell's own
    code never holds the secret whole."""
    middle = len(secret) // 2
    return secret[:middle].encode(), secret[middle:].encode()


# Reads the areas the brief of the attack names, every process's cmdline and environ the
# sandbox shows, then scans every readable mapping of its own memory and the files it can see.
# A canary made at run time proves the memory scan sees what is there.
PROBE = r'''
import base64, ctypes, glob, json, os

NEEDLES = %(needles)r
CANARY_HEAD, CANARY_TAIL = b"canary-", os.urandom(8).hex().encode()
canary = CANARY_HEAD + CANARY_TAIL  # whole in memory, unlike the secrets' halves
NEEDLES["canary"] = (CANARY_HEAD, CANARY_TAIL)


def stat_area(first):
    # /proc/self/stat: fields 48-49 are arg_start, arg_end; 50-51 env_start, env_end.
    fields = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
    start, end = int(fields[first - 3]), int(fields[first - 2])
    return ctypes.string_at(start, end - start)


def hits_in(data, where, found):
    for name, (head, tail) in NEEDLES.items():
        at = data.find(head)
        while at >= 0:
            if data[at + len(head):at + len(head) + len(tail)] == tail:
                found.append([name, where])
                break
            at = data.find(head, at + 1)


dumps = {"env_area": stat_area(50), "arg_area": stat_area(48)}
for path in ["/proc/self/environ", "/proc/self/cmdline", "/proc/self/auxv", "/proc/1/environ",
             "/proc/1/cmdline", *glob.glob("/proc/[0-9]*/cmdline"),
             *glob.glob("/proc/[0-9]*/environ")]:
    try:
        with open(path, "rb") as f:
            dumps[path] = f.read()
    except OSError:
        pass

memory = []
# Only writable mappings: the stack, the heap, anonymous memory and data segments, where a
# secret inherited or copied would be (read-only mappings are code and constants of files).
# Read with ctypes: a non-dumpable session may not open /proc/self/mem.
with open("/proc/self/maps") as maps:
    mappings = maps.read().splitlines()
for line in mappings:
    parts = line.split()
    start, end = (int(x, 16) for x in parts[0].split("-"))
    name = parts[5] if len(parts) > 5 else "anonymous"
    if not parts[1].startswith("rw") or name.startswith("[v"):
        continue
    at = start
    while at < end:
        step = min(1 << 22, end - at)
        chunk = ctypes.string_at(at, min(step + 256, end - at))  # overlapping: no secret cut
        hits_in(chunk, name, memory)
        del chunk
        at += step

files = []
for top in ["/etc", "/tmp", "/work", "/run", "/var", "/home", "/root", "/opt", "/srv", "/mnt",
            "/dev/shm"]:
    for directory, _, names in os.walk(top):
        for name in names:
            path = os.path.join(directory, name)
            try:
                if os.path.islink(path) or os.path.getsize(path) > (4 << 20):
                    continue
                with open(path, "rb") as f:
                    hits_in(f.read(), path, files)
            except OSError:
                pass

print(json.dumps({"dumps": {k: base64.b64encode(v).decode() for k, v in dumps.items()},
                  "memory": memory, "files": files}))
'''


@pytest.fixture(scope="module", params=sorted(KERNEL_MODES))
def mode(request):
    # The token both in the environment and on the command line; the JWT secret likewise.
    env = dict(os.environ, CELLBOX_TOKEN=ADMIN_TOKEN, CELLBOX_JWT_SECRET=JWT_SECRET,
               DATABASE_PASSWORD=HOST_SECRET)
    g, kernelspec = start_gateway_for(
        request.param, lambda *flags: Gateway(*flags, "--jwt-secret", JWT_SECRET, env=env))
    yield g, kernelspec
    g.stop()
    assert g.process.returncode == 0, g.logs()[-3000:]


_probed = {}


def probe(gateway, kernelspec):
    """What the probe found in one kernel of this gateway (probed once, asserted by each test)."""
    if id(gateway) in _probed:
        return _probed[id(gateway)]
    token = user_token("mallory", secret=JWT_SECRET)
    kernel_id = start_kernel(gateway, token, kernelspec)
    needles = {name: halves(secret) for name, secret in SECRETS.items()}
    found = run_json_cell(gateway, kernel_id, PROBE % {"needles": needles}, token)
    gateway.request("DELETE", f"/api/kernels/{kernel_id}")
    found["dumps"] = {k: base64.b64decode(v) for k, v in found["dumps"].items()}
    _probed[id(gateway)] = found
    return found


@pytest.mark.as_cell
def test_secrets_are_not_in_the_sessions_environment_or_argument_areas(mode):
    """A cell reads /proc/self/stat's env_start..env_end and arg_start..arg_end with ctypes."""
    found = probe(*mode)
    assert found["dumps"]["env_area"], "the probe read its environment area"
    for area in ("env_area", "arg_area"):
        for name, secret in SECRETS.items():
            assert secret.encode() not in found["dumps"][area], f"the {name} is in the {area}"
    for variable in (b"CELLBOX_TOKEN=", b"CELLBOX_JWT_SECRET=", b"DATABASE_PASSWORD="):
        assert variable not in found["dumps"]["env_area"], "the gateway's environment reached it"


@pytest.mark.as_cell
def test_secrets_are_not_in_any_environ_or_cmdline_under_proc(mode):
    """A cell reads /proc/self/environ, /proc/1/environ and every /proc/*/cmdline and environ."""
    found = probe(*mode)
    assert "/proc/self/cmdline" in found["dumps"], "the probe could read /proc"
    for path, data in found["dumps"].items():
        for name, secret in SECRETS.items():
            assert secret.encode() not in data, f"the {name} is in {path}"


@pytest.mark.as_cell
def test_secrets_are_nowhere_in_the_sessions_memory_or_files(mode):
    """A cell scans every readable mapping of its memory and the files it can see for them."""
    found = probe(*mode)
    assert any(hit[0] == "canary" for hit in found["memory"]), "the memory scan sees nothing"
    leaks = [hit for hit in found["memory"] + found["files"] if hit[0] != "canary"]
    assert leaks == [], f"secrets found: {leaks}"


@pytest.mark.as_cell
def test_other_tenants_are_not_in_the_memory_a_zygote_session_inherits():
    """A cell in a session forked by the zygote after other users were bound (a pooled session
    handed to alice, a cold fork for carol) scans its memory for their names and /work paths."""
    g, kernelspec = start_gateway_for("zygote", Gateway)
    try:
        others = [f"{name}-{os.urandom(4).hex()}" for name in ("alice", "carol", "dave")]
        for user in others[:2]:  # alice takes the pooled session; carol's is forked on demand
            token = user_token(user)
            kernel_id = start_kernel(g, token, kernelspec)
            assert run_cell(g, kernel_id, "print(1)", token)[0]["status"] == "ok"
        # The session now waiting may have been forked while carol's /work was being mounted:
        # dave takes it, so that mallory's is forked once both /work mounts exist (the mount
        # table names them, and a session's supervisor reads it after the fork).
        work = g.request("GET", "/api/status")[1]["work"]
        assert work["quota"] and set(others[:2]) <= set(work["users"]), "/work images mounted"
        wait_for_pool(g, kernelspec)
        start_kernel(g, user_token(others[2]), kernelspec)
        wait_for_pool(g, kernelspec)
        mallory = user_token("mallory")
        kernel_id = start_kernel(g, mallory, kernelspec)
        needles = {f"tenant {i}": halves(user) for i, user in enumerate(others)}
        found = run_json_cell(g, kernel_id, PROBE % {"needles": needles}, mallory)
    finally:
        g.stop()
    assert any(hit[0] == "canary" for hit in found["memory"]), "the memory scan sees nothing"
    leaks = [hit for hit in found["memory"] + found["files"] if hit[0] != "canary"]
    assert leaks == [], f"other tenants found: {leaks}"
