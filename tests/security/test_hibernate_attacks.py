"""Attacks on hibernation (issue 16): another tenant hibernating, resuming or reading a
kernel's image; a cell handing the gateway a link instead of its image; a tampered image in the
state directory; a resumed kernel using the read-only descriptor of the store's file it was
handed (it maps the image instead of receiving a copy) to change that file. An image holds a user's code and data: only its own kernel may restore it, it
is unpickled only inside that kernel's sandbox, and a bad one hurts only its own session."""

import glob
import hashlib
import json
import os
import pickle
import struct
import time

import pytest

from conftest import run_cell, user_token

MAGIC = b"CELLBOX-HIBERNATE-1\n"
KERNEL = "cellbox-python"


def record(kind, name, payload):
    encoded = name.encode()
    return struct.pack("<cBHQ", kind, 0, len(encoded), len(payload)) + encoded + payload


def image(values):
    """An image as the kernel writes them, with `values` (name -> pickle bytes)."""
    body = b"".join(record(b"V", name, payload) for name, payload in values.items())
    meta = json.dumps({"execution_count": 7, "cwd": "/work", "In": [], "modules": {}}).encode()
    return MAGIC + body + record(b"M", "meta", meta)


class _Exits:
    def __reduce__(self):
        return (os._exit, (3,))


class _WritesAndFails:
    """Runs code where it is unpickled: tells who (uid) that was, then fails."""

    def __reduce__(self):
        return (exec, ("import os; open('/work/unpickled-by', 'w').write(str(os.getuid()))\n"
                       "raise RuntimeError('tampered')",))


def start(gateway, token):
    status, body, _ = gateway.request("POST", "/api/kernels", {"name": KERNEL}, token=token)
    assert status == 201, body
    return body["id"]


def hibernate(gateway, kernel_id, token):
    return gateway.request("POST", f"/api/kernels/{kernel_id}/hibernate", token=token)


def image_path(gateway, kernel_id):
    return os.path.join(gateway.work_dir, "state", "images", kernel_id + ".img")


def state_of(gateway, kernel_id, token):
    return gateway.request("GET", f"/api/kernels/{kernel_id}", token=token)[1]["execution_state"]


@pytest.fixture(scope="module")
def alice(gateway):
    token = user_token("alice")
    kernel_id = start(gateway, token)
    assert run_cell(gateway, kernel_id, token, "secret = 'alice-secret-5521'")[1] is None
    yield {"token": token, "kernel": kernel_id}
    gateway.request("DELETE", f"/api/kernels/{kernel_id}", token=token)


def test_another_user_cannot_hibernate_a_kernel(gateway, alice):
    """mallory hibernates alice's kernel by its id: 404, alice's kernel keeps running."""
    mallory = user_token("mallory")
    status, body, _ = hibernate(gateway, alice["kernel"], mallory)
    assert status == 404, body
    assert "alice" not in json.dumps(body)
    assert state_of(gateway, alice["kernel"], alice["token"]) == "idle"
    assert not os.path.exists(image_path(gateway, alice["kernel"]))


def test_another_user_cannot_resume_or_read_a_hibernated_kernel(gateway, alice):
    """mallory resumes alice's hibernated kernel (execute, WebSocket, interrupt, restart, GET)."""
    status, body, _ = hibernate(gateway, alice["kernel"], alice["token"])
    assert status == 200, body
    mallory = user_token("mallory")
    kid = alice["kernel"]
    for method, path, body in (("GET", f"/api/kernels/{kid}", None),
                               ("POST", f"/api/kernels/{kid}/execute", {"code": "secret"}),
                               ("POST", f"/api/kernels/{kid}/interrupt", None),
                               ("POST", f"/api/kernels/{kid}/restart", None),
                               ("DELETE", f"/api/kernels/{kid}", None)):
        status, answer, _ = gateway.request(method, path, body, token=mallory)
        assert status == 404, (method, path, answer)
        assert "alice-secret" not in json.dumps(answer)
    with pytest.raises(Exception):
        run_cell(gateway, kid, mallory, "secret")
    # Untouched by all that: still hibernated, then resumed by alice with her secret.
    assert state_of(gateway, kid, alice["token"]) == "hibernated"
    out, error = run_cell(gateway, kid, alice["token"], "print(secret)")
    assert error is None and "alice-secret-5521" in out


@pytest.mark.parametrize("path", [
    "/api/kernels/..%2F..%2Fstate%2Fimages/hibernate",
    "/api/kernels/../state/images/x/hibernate",
    "/api/kernels/00000000-0000-0000-0000-000000000000%2F..%2F..%2Fx/hibernate",
    "/api/kernels/00000000-0000-0000-0000-00000000000./hibernate",
])
def test_path_tricks_name_no_image(gateway, path):
    """A kernel id with path tricks in POST /api/kernels/{id}/hibernate: 404, nothing written."""
    before = set(os.listdir(os.path.dirname(image_path(gateway, "x"))))
    status, body, _ = gateway.request("POST", path, token=user_token("mallory"))
    assert status == 404, body
    assert set(os.listdir(os.path.dirname(image_path(gateway, "x")))) == before


@pytest.mark.as_cell
@pytest.mark.parametrize("trick", [
    "os.symlink('/etc/shadow', d + '/hibernate.img')",
    "open('/work/big', 'w').write('x'); os.link('/work/big', d + '/hibernate.img')",
    "os.mkfifo(d + '/hibernate.img')",
])
def test_a_cell_hands_the_gateway_a_link_instead_of_its_image(gateway, trick):
    """A cell replaces the kernel's hibernate() to leave a symlink, hard link or FIFO."""
    token = user_token("mallory")
    kernel_id = start(gateway, token)
    code = ("import os, cellbox_hibernate as h\n"
            "def fake(d, limit=0):\n"
            f"    {trick}\n"
            "    open(d + '/hibernate.json', 'w').write('{}')\n"
            "h.hibernate = fake\n")
    assert run_cell(gateway, kernel_id, token, code)[1] is None
    status, body, _ = hibernate(gateway, kernel_id, token)
    assert status == 409, body
    assert "could not hibernate" in body["message"]
    assert not os.path.exists(image_path(gateway, kernel_id))
    # The kernel runs on, as before the request.
    assert run_cell(gateway, kernel_id, token, "print(1 + 1)") == ("2\n", None)
    gateway.request("DELETE", f"/api/kernels/{kernel_id}", token=token)


@pytest.mark.parametrize("content", ["garbage", "exits", "writes"])
def test_a_tampered_image_hurts_only_its_own_session(gateway, alice, content):
    """An image in the state dir replaced (as root) by garbage or a malicious pickle."""
    token = user_token("mallory")
    kernel_id = start(gateway, token)
    assert run_cell(gateway, kernel_id, token, "x = 1")[1] is None
    assert hibernate(gateway, kernel_id, token)[0] == 200
    payload = {"garbage": os.urandom(4096),
               "exits": image({"x": pickle.dumps(_Exits())}),
               "writes": image({"x": pickle.dumps(_WritesAndFails())})}[content]
    with open(image_path(gateway, kernel_id), "wb") as out:
        out.write(payload)
    started = time.monotonic()
    out, error = run_cell(gateway, kernel_id, token, "print('ran')")
    assert time.monotonic() - started < 30, "the restore hung"
    if content == "writes":
        # One value that fails to load is one name not restored, said on the next cell.
        assert error is None and "x (RuntimeError: tampered)" in out and "ran" in out, out
    else:
        # An unreadable image, or a process killed by it: the next cell is answered with the
        # explanation instead of running, then a fresh, working kernel under the same id.
        assert error is not None and error.startswith("SessionRestoreError"), (out, error)
        out, error = run_cell(gateway, kernel_id, token, "print('x' in dir(), 2 + 2)")
        assert (out, error) == ("False 4\n", None)
    if content == "writes":
        # The pickle ran inside mallory's own sandbox (its uid, its /work), not in the gateway.
        out, error = run_cell(gateway, kernel_id, token, "print(open('/work/unpickled-by').read())")
        assert error is None and out.strip() not in ("", "0"), out
    # alice and the gateway are fine.
    out, error = run_cell(gateway, alice["kernel"], alice["token"], "print(secret)")
    assert error is None and "alice-secret-5521" in out
    assert gateway.request("GET", "/api/status")[0] == 200
    gateway.request("DELETE", f"/api/kernels/{kernel_id}", token=token)


# Run in the resumed kernel: every descriptor on the store's file (the one its mapping keeps),
# each way of writing through it tried; the errors (or "DONE") and the bytes it reads.
_USE_THE_HANDED_OVER_DESCRIPTOR = """
import errno, hashlib, json, mmap, os
found = {}
for name in os.listdir('/proc/self/fd'):
    fd = int(name)
    try:
        st = os.fstat(fd)
    except OSError:
        continue
    if st.st_ino != INODE:
        continue
    tried = {'uid': st.st_uid, 'mode': oct(st.st_mode & 0o777)}
    def attempt(what, action):
        try:
            action()
            tried[what] = 'DONE'
        except OSError as e:
            tried[what] = errno.errorcode.get(e.errno, str(e.errno))
    attempt('write', lambda: os.pwrite(fd, b'X', 0))
    attempt('reopen', lambda: os.open('/proc/self/fd/%d' % fd, os.O_RDWR))
    attempt('truncate', lambda: os.ftruncate(fd, 0))
    attempt('chmod', lambda: os.fchmod(fd, 0o666))
    attempt('chown', lambda: os.fchown(fd, os.getuid(), os.getgid()))
    attempt('map_shared', lambda: mmap.mmap(fd, 0, flags=mmap.MAP_SHARED,
                                            prot=mmap.PROT_READ | mmap.PROT_WRITE))
    digest, at = hashlib.sha256(), 0
    while True:
        chunk = os.pread(fd, 1 << 20, at)
        if not chunk:
            break
        digest.update(chunk)
        at += len(chunk)
    tried['sha256'] = digest.hexdigest()
    found[fd] = tried
a[0] = -1.0  # the mapping is copy-on-write: the session may change its arrays
print(json.dumps({'found': found, 'a': [float(a[0]), float(a[1]) == second]}))
"""


def test_a_resumed_kernel_cannot_change_the_image_it_was_handed(gateway):
    """A resumed kernel maps the store's file through a read-only descriptor: whatever it
    does with it (write, reopen writable through /proc, truncate, chmod, chown, map it shared
    writable), the file keeps its bytes, owner and mode; its own arrays stay writable."""
    if os.geteuid() != 0:
        pytest.skip("the image is handed over only when the sandbox runs kernels as another "
                    "uid than the gateway's (a root gateway); otherwise it is copied")
    token = user_token("mallory")
    kernel_id = start(gateway, token)
    code = ("import numpy as np\na = np.random.default_rng(0).random(1 << 18)\n"
            "second = float(a[1])")
    assert run_cell(gateway, kernel_id, token, code)[1] is None
    assert hibernate(gateway, kernel_id, token)[0] == 200
    path = image_path(gateway, kernel_id)
    st = os.stat(path)
    assert (st.st_uid, st.st_mode & 0o777) == (0, 0o600)
    with open(path, "rb") as source:
        digest = hashlib.sha256(source.read()).hexdigest()
    out, error = run_cell(gateway, kernel_id, token,
                          _USE_THE_HANDED_OVER_DESCRIPTOR.replace("INODE", str(st.st_ino)))
    assert error is None, error
    result = json.loads(out.strip().splitlines()[-1])
    assert result["a"] == [-1.0, True]
    assert len(result["found"]) == 1, result  # the mapping's descriptor, and only it
    tried = next(iter(result["found"].values()))
    assert (tried["uid"], tried["mode"]) == (0, "0o600")
    for what in ("write", "reopen", "truncate", "chmod", "chown", "map_shared"):
        assert tried[what] in ("EBADF", "EACCES", "EPERM", "EINVAL"), (what, tried)
    assert tried["sha256"] == digest
    # The socket it came through is gone: no second descriptor to ask for.
    assert glob.glob(os.path.join(gateway.runtime, "**", "image.sock"), recursive=True) == []
    gateway.request("DELETE", f"/api/kernels/{kernel_id}", token=token)
