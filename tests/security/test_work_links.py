"""Code in a cell plays link tricks in its /work: hard links to files outside it, symbolic
links to another user's files by their host path, set-uid files, and links left for the next
kernel (after a restart) or for the gateway itself. None reaches anything but the user's own
files; nothing on the host changes."""

import os

import pytest

from conftest import run_cell as cell, user_token

pytestmark = pytest.mark.as_cell


@pytest.fixture(scope="module")
def mallory(gateway):
    token = user_token("mallory")
    status, kernel, _ = gateway.request("POST", "/api/kernels", {}, token=token)
    assert status == 201
    yield token, kernel["id"]
    gateway.request("DELETE", f"/api/kernels/{kernel['id']}", token=token)


@pytest.fixture(scope="module")
def bobs_secret(gateway):
    """A file of another user, bob, in his persistent directory on the host."""
    token = user_token("bob")
    status, kernel, _ = gateway.request("POST", "/api/kernels", {}, token=token)
    assert status == 201
    out, error = cell(gateway, kernel["id"], token,
                      "open('/work/secret.txt', 'w').write('bob-secret-5521'); print('ok')")
    assert (out, error) == ("ok\n", None)
    gateway.request("DELETE", f"/api/kernels/{kernel['id']}", token=token)
    path = os.path.join(gateway.work_dir, "users", "bob", "secret.txt")
    assert open(path).read() == "bob-secret-5521"
    return path


def test_hard_links_to_files_outside_work_fail(gateway, mallory):
    """A hard link in /work to /etc/passwd, the kernel's own binary and /proc/self/exe."""
    token, kernel_id = mallory
    out, error = cell(gateway, kernel_id, token, """
import os, errno
for i, target in enumerate(['/etc/passwd', '/usr/bin/python3', '/etc/shadow']):
    try:
        os.link(target, f'/work/hard{i}')
        print('LINKED', target)
    except OSError as e:
        print('refused', errno.errorcode[e.errno])
""")
    assert error is None and "LINKED" not in out and out.count("refused") == 3, out


def test_symlinks_to_another_users_host_path_lead_nowhere(gateway, mallory, bobs_secret):
    """A symbolic link in /work to bob's file by its host path, and by ../ from /work."""
    token, kernel_id = mallory
    out, error = cell(gateway, kernel_id, token, f"""
import os
for i, target in enumerate([{bobs_secret!r}, '../users/bob/secret.txt', '/work/../bob/secret.txt']):
    os.symlink(target, f'/work/link{{i}}')
    try:
        print('READ', open(f'/work/link{{i}}').read())
    except OSError as e:
        print('refused', e.errno)
""")
    assert error is None and "bob-secret" not in out and out.count("refused") == 3, out


def test_links_left_for_the_next_kernel_are_not_followed_by_the_host(gateway, mallory):
    """Before a restart, /work's entries become links to host files the gateway or a new
    kernel's setup might write through (users.json, the runtime dir, /etc)."""
    token, kernel_id = mallory
    users_json = os.path.join(gateway.work_dir, "users.json")
    before = open(users_json).read()
    out, error = cell(gateway, kernel_id, token, f"""
import os
for name, target in [('.ipython', '/etc'), ('.local', {users_json!r}), ('.cache', '/root'),
                     ('.config', {gateway.runtime!r})]:
    os.symlink(target, '/work/' + name)
print('planted')
""")
    assert out == "planted\n", (out, error)
    assert gateway.request("POST", f"/api/kernels/{kernel_id}/restart", token=token)[0] == 200
    out, error = cell(gateway, kernel_id, token, "print('alive')")
    assert out == "alive\n", (out, error)
    assert open(users_json).read() == before, "users.json changed through a planted link"
    assert not os.path.exists("/etc/profile_ipython"), "something was written through /etc"


def test_set_uid_files_in_work_grant_nothing(gateway, mallory):
    """A copy of python made set-uid in /work, executed to become another uid."""
    token, kernel_id = mallory
    out, error = cell(gateway, kernel_id, token, """
import os, shutil, subprocess, sys
shutil.copy(sys.executable, '/work/py')
try:
    os.chmod('/work/py', 0o4755)
except OSError as e:
    print('chmod refused', e.errno)
mine = os.getuid()
try:
    other = subprocess.run(['/work/py', '-c', 'import os; print(os.geteuid())'],
                           capture_output=True, text=True).stdout.strip()
    print('same uid' if other in ('', str(mine)) else 'BECAME ' + other)
except OSError as e:
    print('exec refused', e.errno)
""")
    assert error is None and "BECAME" not in out, out
