"""Attacks on the host's disk through /work: a tenant's code fills it with bytes (fallocate,
writes) or with inodes (many empty files). Each user's /work is a filesystem of its own with a
hard quota (--work-quota, --work-inodes, a token's limits.disk), enforced by the kernel."""

import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from conftest import ADMIN_TOKEN, CELLBOX, Gateway, user_token
from host_storage import leftovers, quota_unavailable_reason
from tenant_kernels import pool_hits, run, run_cells, start_kernel, stdout, wait_for_pool

pytestmark = pytest.mark.skipif(quota_unavailable_reason() is not None,
                                reason=str(quota_unavailable_reason()))

MIB = 2**20
QUOTA = 64 * MIB
INODES = 2000
FLAGS = ("--work-quota", "64M", "--work-inodes", str(INODES))
ZYGOTE_SPEC, LAUNCHED_SPEC = "cellbox-python", "python3"  # a zygote's, and ipykernel's

# Writes until the filesystem refuses, at most `cap` MiB (on a host without quotas it would
# otherwise fill the host's disk); prints the errno name and the MiB written; cleans up.
FILL = """
import errno, os
written, error = 0, None
try:
    with open({path!r}, "wb") as f:
        chunk = b"x" * 2**20
        while written < {cap}:
            f.write(chunk)
            f.flush()
            written += 1
except OSError as e:
    error = errno.errorcode.get(e.errno, e.errno)
finally:
    if os.path.exists({path!r}):
        os.unlink({path!r})
print(error, written)
"""

DF = """
import os
s = os.statvfs("/work")
print(s.f_blocks * s.f_frsize, s.f_files)
"""


def fill(gateway, kernel_id, token, path="/work/fill", cap=512):
    status, out = run(gateway, kernel_id, FILL.format(path=path, cap=cap), token)
    assert status == "ok", out
    error, written = out.split()
    return error, int(written)


def df(gateway, kernel_id, token):
    status, out = run(gateway, kernel_id, DF, token)
    assert status == "ok", out
    size, inodes = out.split()
    return int(size), int(inodes)


def most(quota):
    """The usable size of a quota: at least the quota, a little more (ext4's slack)."""
    return int(quota * 1.1 + 8 * MIB)


MOST = most(QUOTA)


def assert_quota_size(size, quota=QUOTA):
    assert quota <= size <= most(quota), \
        f"df /work shows {size >> 20} MiB, not the quota of {quota >> 20} MiB"


def image_of(gateway, user):
    return os.path.join(gateway.work_dir, "images", f"{user}.ext4")


@pytest.fixture(scope="module")
def quota_gateway(tmp_path_factory):
    g = Gateway(*FLAGS, "--pool-size", "1", "--launch-pool-size", "1",
                work_dir=str(tmp_path_factory.mktemp("work")))
    yield g
    g.stop()
    assert g.process.returncode == 0, g.logs()[-3000:]
    assert leftovers(g.work_dir) == [], "a stopped gateway leaves nothing mounted or bound"


@pytest.mark.as_cell
@pytest.mark.parametrize("spec", [ZYGOTE_SPEC, LAUNCHED_SPEC], ids=["zygote", "launch-pool"])
def test_fallocate_past_the_quota_fails_and_the_kernel_keeps_its_state(quota_gateway, spec):
    """Three 1 GiB posix_fallocate calls, then writes until /work is full, from a pooled kernel."""
    user = f"filler-{spec}"
    token = user_token(user)
    wait_for_pool(quota_gateway, spec)
    hits = pool_hits(quota_gateway)
    kid = start_kernel(quota_gateway, token, spec)
    assert pool_hits(quota_gateway) == hits + 1, "bound to its user from the pool"
    attack = """
import errno, os
kept = 41
outcomes = []
for i in range(3):
    fd = os.open(f"/work/big{i}", os.O_CREAT | os.O_WRONLY)
    try:
        os.posix_fallocate(fd, 0, 2**30)
        outcomes.append("allocated")
    except OSError as e:
        outcomes.append(errno.errorcode[e.errno])
    finally:
        os.close(fd)
for i in range(3):
    os.unlink(f"/work/big{i}")
print(*outcomes)
"""
    results = run_cells(quota_gateway, kid, [attack, FILL.format(path="/work/fill", cap=512),
                                             "print(kept + 1)"], token)
    outcomes = stdout(results[0][1]).split()
    assert outcomes and all(o in ("ENOSPC", "EDQUOT") for o in outcomes), outcomes
    error, written = stdout(results[1][1]).split()
    assert error in ("ENOSPC", "EDQUOT") and int(written) <= MOST // MIB, (error, written)
    assert stdout(results[2][1]) == "42\n", "the kernel keeps its variables"
    image = image_of(quota_gateway, user)
    assert os.stat(image).st_blocks * 512 <= os.path.getsize(image) <= QUOTA * 1.25, \
        "the host's disk holds at most the user's image"
    quota_gateway.request("DELETE", f"/api/kernels/{kid}", token=token)


@pytest.mark.as_cell
def test_two_hundred_thousand_empty_files_stop_at_the_inode_limit(quota_gateway):
    """200 000 empty files in /work, to exhaust the host's inodes."""
    token = user_token("inodes")
    kid = start_kernel(quota_gateway, token)
    attack = """
import errno, os, shutil
os.mkdir("/work/many")
made, error = 0, None
try:
    for made in range(200000):
        open(f"/work/many/{made}", "w").close()
    made = 200000
except OSError as e:
    error = errno.errorcode.get(e.errno, e.errno)
shutil.rmtree("/work/many")
print(error, made)
"""
    status, out = run(quota_gateway, kid, attack, token)
    assert status == "ok", out
    error, made = out.split()
    assert error in ("ENOSPC", "EDQUOT"), f"{made} files accepted"
    assert int(made) <= INODES * 1.1
    assert run(quota_gateway, kid, "open('/work/after', 'w').write('x'); print('ok')",
               token) == ("ok", "ok\n"), "freed inodes can be used again"


@pytest.mark.as_cell
def test_df_in_the_session_shows_the_quota_not_the_host(quota_gateway):
    """df /work from a cell, to learn the size of the host's disk."""
    token = user_token("looker")
    kid = start_kernel(quota_gateway, token)
    size, inodes = df(quota_gateway, kid, token)
    assert_quota_size(size)
    assert INODES <= inodes <= INODES * 1.1
    assert run(quota_gateway, kid, "import os; print(os.listdir('/work'))", token) == \
        ("ok", "[]\n"), "a new user's /work is empty (no lost+found)"


@pytest.mark.as_cell
def test_a_full_work_leaves_other_users_writing(quota_gateway):
    """Fill one user's /work to starve the other users of space."""
    mallory, bob = user_token("mallory"), user_token("bob")
    mallory_kernel = start_kernel(quota_gateway, mallory)
    bob_kernel = start_kernel(quota_gateway, bob)
    keep = "open('/work/hog', 'wb').write(b'x' * (60 * 2**20))\nprint('held')"
    status, out = run(quota_gateway, mallory_kernel, keep, mallory)
    assert (status, out) == ("ok", "held\n"), out
    error, _ = fill(quota_gateway, mallory_kernel, mallory)
    assert error in ("ENOSPC", "EDQUOT")
    write = """
data = b"y" * (32 * 2**20)
open("/work/mine", "wb").write(data)
print(open("/work/mine", "rb").read() == data)
"""
    assert run(quota_gateway, bob_kernel, write, bob) == ("ok", "True\n")
    assert_quota_size(df(quota_gateway, bob_kernel, bob)[0])


def test_a_tokens_disk_limit_lowers_the_quota_and_never_raises_it(quota_gateway):
    """Tokens whose limits.disk asks for less (honoured) and for 10G (refused) than the server."""
    low, high = user_token("dora", disk="32M"), user_token("ezra", disk="10G")
    low_kernel, high_kernel = start_kernel(quota_gateway, low), start_kernel(quota_gateway, high)
    size, inodes = df(quota_gateway, low_kernel, low)
    assert_quota_size(size, 32 * MIB)
    assert inodes <= INODES * 0.6, "inodes in proportion"
    assert_quota_size(df(quota_gateway, high_kernel, high)[0])
    assert fill(quota_gateway, low_kernel, low)[0] in ("ENOSPC", "EDQUOT")
    bad = user_token("fay", disk="lots")
    assert quota_gateway.request("GET", "/api/kernels", token=bad)[0] == 403


def test_status_shows_each_users_usage_to_the_admin_and_their_own_to_a_tenant(quota_gateway):
    """A tenant reads /api/status to see other users' disk usage."""
    alice, carol = user_token("alice"), user_token("carol")
    alice_kernel = start_kernel(quota_gateway, alice)
    start_kernel(quota_gateway, carol)
    status, out = run(quota_gateway, alice_kernel,
                      "open('/work/five', 'wb').write(b'z' * (5 * 2**20)); print('ok')", alice)
    assert status == "ok", out
    mine = quota_gateway.request("GET", "/api/status", token=alice)[1]["work"]
    assert mine["quota"] is True
    assert set(mine["users"]) == {"alice"}, "a tenant sees only their own usage"
    usage = mine["users"]["alice"]
    assert 5 * MIB <= usage["bytes_used"] <= usage["bytes_limit"]
    assert_quota_size(usage["bytes_limit"])
    assert 0 < usage["inodes_used"] < usage["inodes_limit"] <= INODES * 1.1
    everyone = quota_gateway.request("GET", "/api/status", token=ADMIN_TOKEN)[1]["work"]["users"]
    assert {"alice", "carol"} <= set(everyone)


def test_the_quota_survives_gateway_restarts_and_follows_the_users_token(tmp_path):
    """Restart the gateway to get rid of the quota; files kept, a lower token shrinks the image."""
    work = str(tmp_path / "work")
    plain = ("--pool-size", "0", "--launch-pool-size", "0")
    token = user_token("rita")

    def session(*cells, as_token=token):
        g = Gateway(*FLAGS, *plain, work_dir=work)
        try:
            kid = start_kernel(g, as_token)
            return [stdout(outputs) for _, outputs in run_cells(g, kid, [DF, *cells], as_token)]
        finally:
            g.stop()
            assert g.process.returncode == 0, g.logs()[-3000:]
            assert leftovers(work) == [], "nothing stays mounted or bound between gateways"

    first = session("open('/work/keep.txt', 'w').write('kept'); print('written')")
    assert first[1] == "written\n"
    assert not os.listdir(os.path.join(work, "users", "rita")), \
        "unmounted, the directory under the mount point is empty: files live in the image"
    second = session("print(open('/work/keep.txt').read())", FILL.format(path="/work/f", cap=512))
    assert_quota_size(int(second[0].split()[0]))
    assert second[1] == "kept\n"
    assert second[2].split()[0] in ("ENOSPC", "EDQUOT")
    lowered = session("print(open('/work/keep.txt').read())",
                      as_token=user_token("rita", disk="24M"))
    assert_quota_size(int(lowered[0].split()[0]), 24 * MIB)
    assert lowered[1] == "kept\n", "shrunk with its files"
    raised = session("print(open('/work/keep.txt').read())")
    assert_quota_size(int(raised[0].split()[0]))
    assert raised[1] == "kept\n", "grown back to the server's quota with its files"


def test_a_host_without_quotas_is_refused_unless_the_operator_opts_out():
    """A gateway that cannot enforce quotas (here: not root) would serve without them."""
    top = pathlib.Path(tempfile.mkdtemp(prefix="cellbox-noquota-"))  # nobody can reach it
    os.chmod(top, 0o755)
    runtime, work = top / "rt", top / "work"
    for path in (runtime, work):
        path.mkdir()
        os.chmod(path, 0o777)
    command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", str(CELLBOX),
               "serve", "--port", "0", "--runtime-dir", str(runtime), "--work-dir", str(work),
               "--pool-size", "0", "--launch-pool-size", "0"]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "--work-quota 0" in refused.stderr and "not run as root" in refused.stderr, \
        refused.stderr
    for opt_out in (["--work-quota", "0"], ["--allow-degraded"]):
        served = subprocess.Popen(command + opt_out, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        try:
            assert "http://" in served.stdout.readline(), "serves once told to"
        finally:
            served.terminate()
            served.communicate(timeout=30)
    shutil.rmtree(top)
