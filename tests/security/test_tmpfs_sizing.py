"""Attacks on a kernel's own memory through its tmpfs mounts: /tmp and /dev/shm are charged to
the session's memory cgroup, so filling them must end in ENOSPC, not in the OOM killer taking
the kernel (and its state). They are sized from the kernel's memory limit (/tmp a quarter,
/dev/shm an eighth, at most the policy's sizes), also when a pooled session is bound to a
user whose token lowers the limit (the zygote's `go`, a prespawned kernel's late binding)."""

import pytest

from conftest import ADMIN_TOKEN, Gateway, user_token
from tenant_kernels import pool_hits, run, run_cells, start_kernel, stdout, wait_for_pool

MIB = 2**20
ZYGOTE_SPEC, LAUNCHED_SPEC = "cellbox-python", "python3"

SIZES = """
import os
def size(path):
    s = os.statvfs(path)
    return s.f_blocks * s.f_frsize >> 20
print(size("/tmp"), size("/dev/shm"))
"""

# Writes until the tmpfs refuses, at most `cap` MiB; prints the errno name and the MiB written.
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


@pytest.fixture(scope="module")
def plain():
    """Kernels launched one by one through the sandbox, with 256 MiB each."""
    g = Gateway("--memory", "256M", "--pool-size", "0", "--launch-pool-size", "0")
    yield g
    g.stop()
    assert g.process.returncode == 0, g.logs()[-3000:]


@pytest.fixture(scope="module")
def zygote():
    """Kernels forked by the zygote with the server's 1 GiB, bound to their user by `go`."""
    g = Gateway("--memory", "1G", "--pool-size", "1", "--launch-pool-size", "0")
    yield g
    g.stop()
    assert g.process.returncode == 0, g.logs()[-3000:]


@pytest.fixture(scope="module")
def launch_pool():
    """ipykernels launched ahead with the server's 1 GiB, bound to their user when taken."""
    g = Gateway("--memory", "1G", "--pool-size", "0", "--launch-pool-size", "1")
    yield g
    g.stop()
    assert g.process.returncode == 0, g.logs()[-3000:]


def kernel_of(request, mode):
    """(gateway, kernel id, token) of a kernel limited to 256 MiB, made the way `mode` says."""
    gateway = request.getfixturevalue(mode)
    token = user_token(f"tenant-{mode.replace('_', '-')}", memory="256M")
    spec = {"plain": None, "zygote": ZYGOTE_SPEC, "launch_pool": LAUNCHED_SPEC}[mode]
    if spec:
        wait_for_pool(gateway, spec)
    hits = pool_hits(gateway)
    kid = start_kernel(gateway, token, spec)
    if spec:
        assert pool_hits(gateway) == hits + 1, "a pooled session, bound with the lower limit"
    return gateway, kid, token


MODES = ["plain", "zygote", "launch_pool"]


@pytest.mark.as_cell
@pytest.mark.parametrize("mode", MODES)
def test_tmpfs_sizes_follow_the_kernels_memory_limit(request, mode):
    """Read the sizes of /tmp and /dev/shm of a 256 MiB kernel, hoping for more than it has."""
    gateway, kid, token = kernel_of(request, mode)
    assert run(gateway, kid, SIZES, token) == ("ok", "64 32\n"), \
        "a quarter and an eighth of 256 MiB"
    gateway.request("DELETE", f"/api/kernels/{kid}", token=token)


@pytest.mark.as_cell
@pytest.mark.parametrize("mode", MODES)
def test_filling_tmp_and_dev_shm_gives_enospc_and_the_kernel_survives(request, mode):
    """Fill /tmp, then /dev/shm, of a 256 MiB kernel to have the OOM killer end it."""
    gateway, kid, token = kernel_of(request, mode)
    results = run_cells(gateway, kid, ["kept = 41", FILL.format(path="/tmp/fill", cap=1024),
                                       FILL.format(path="/dev/shm/fill", cap=1024),
                                       "print(kept + 1)"], token)
    for (reply, outputs), limit in zip(results[1:3], (64, 32)):
        assert reply["content"]["status"] == "ok", reply["content"]
        error, written = stdout(outputs).split()
        assert error == "ENOSPC" and int(written) <= limit, stdout(outputs)
    assert stdout(results[3][1]) == "42\n", "the kernel survived with its variables"
    gateway.request("DELETE", f"/api/kernels/{kid}", token=token)


@pytest.mark.as_cell
def test_the_policy_caps_tmpfs_of_a_large_kernel(zygote):
    """A kernel with the server's full 1 GiB asks for a /tmp as large as its memory."""
    kid = start_kernel(zygote, ADMIN_TOKEN)
    assert run(zygote, kid, SIZES, ADMIN_TOKEN) == ("ok", "256 64\n"), \
        "the default policy's tmp_size and shm_size"
    zygote.request("DELETE", f"/api/kernels/{kid}")
