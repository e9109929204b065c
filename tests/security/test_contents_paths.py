"""Attacks on the contents API's paths: a tenant asks for files outside its /work with "..",
percent-encoded and absolute forms, through symbolic links its own code planted in /work
(to the host's /etc, to another user's files), with hard links, FIFOs, huge bodies and other
users' paths. Every one is refused with a 4xx (or finds nothing: 404), nothing outside the
user's /work is read or written, and the gateway keeps serving."""

import http.client
import json
import os
import urllib.parse

import pytest

from conftest import ADMIN_TOKEN, Gateway, run_cell as cell, user_token

MAX_BODY = 1 << 20


@pytest.fixture(scope="module")
def gateway():
    g = Gateway("--pool-size", "1", "--max-message-bytes", str(MAX_BODY))
    yield g
    g.stop()
    assert g.process.returncode == 0, "the gateway did not survive the attacks:\n" + g.logs()[-3000:]


def raw(gateway, method, target, token, body=None, headers=None):
    """One request with the target exactly as written (no client-side normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
    try:
        all_headers = {"Authorization": f"token {token}"}
        all_headers.update(headers or {})
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        conn.request(method, target, body=data, headers=all_headers)
        res = conn.getresponse()
        text = res.read()
        try:
            return res.status, json.loads(text) if text else None
        except ValueError:
            return res.status, text
    finally:
        conn.close()


@pytest.fixture(scope="module")
def mallory(gateway):
    """A tenant with a kernel, whose /work holds one file of its own."""
    token = user_token("mallory")
    status, kernel, _ = gateway.request("POST", "/api/kernels", {}, token=token)
    assert status == 201
    assert raw(gateway, "PUT", "/api/contents/mine.txt", token,
               {"type": "file", "format": "text", "content": "mallory's"})[0] == 201
    yield token, kernel["id"]
    gateway.request("DELETE", f"/api/kernels/{kernel['id']}", token=token)


@pytest.fixture(scope="module")
def bobs_file(gateway):
    """Bob's file, written through the API; returns its host path."""
    token = user_token("bob")
    assert raw(gateway, "PUT", "/api/contents/secret.txt", token,
               {"type": "file", "format": "text", "content": "bob-secret-7781"})[0] == 201
    path = os.path.join(gateway.work_dir, "users", "bob", "secret.txt")
    assert open(path).read() == "bob-secret-7781"
    return path


def refused(status, body):
    return status in (400, 404) and "message" in body


@pytest.mark.parametrize("target", [
    "/api/contents/../../../etc/passwd",
    "/api/contents/..",
    "/api/contents/%2e%2e/%2e%2e/etc/passwd",
    "/api/contents/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/api/contents/..%2f..%2fetc%2fpasswd",
    "/api/contents/x/%2e%2e/%2e%2e/users.json",
    "/api/contents/.%2e/bob/secret.txt",
    "/api/contents/%2fetc%2fpasswd",
    "/api/contents//etc/passwd",
    "/api/contents/etc/passwd%00.txt",
    "/api/contents/%252e%252e/%252e%252e/etc/passwd",
    "/api/contents/..\\..\\etc\\passwd",
    "/api/contents/%zz",
])
def test_dot_dot_encoded_and_absolute_paths_are_refused(gateway, mallory, target):
    """Reads outside /work with "..", its percent-encoded forms, encoded slashes, NUL and
    absolute paths."""
    token, _ = mallory
    status, body = raw(gateway, "GET", target, token)
    assert refused(status, body), (target, status, body)
    assert "root:" not in json.dumps(body)
    status, body = raw(gateway, "PUT", target, token,
                       {"type": "file", "format": "text", "content": "pwned"})
    if status == 201:
        # Only a literal name inside /work may come of it ("..\\..", "%2e%2e" after one
        # decoding): a file of the tenant's own, removed again.
        assert "/" not in body["path"], body
        assert raw(gateway, "DELETE", "/api/contents/" + "/".join(
            urllib.parse.quote(p, safe="") for p in body["path"].split("/")), token)[0] == 204
    else:
        assert status in (400, 404), (target, status, body)
    assert not os.path.exists("/etc/cellbox-pwned")
    assert open("/etc/passwd").read().startswith("root:")


def test_paths_in_bodies_cannot_leave_work(gateway, mallory):
    """A rename (PATCH "path") or a copy (POST "copy_from") naming ../, absolute or another
    user's paths."""
    token, _ = mallory
    for new_path in ("../../../tmp/escaped.txt", "../bob/stolen.txt", "a/../../x.txt"):
        status, body = raw(gateway, "PATCH", "/api/contents/mine.txt", token, {"path": new_path})
        assert status == 400 and ".." in body["message"], (new_path, body)
    status, body = raw(gateway, "PATCH", "/api/contents/mine.txt", token,
                       {"path": "/tmp/escaped.txt"})
    assert status == 404, "an absolute path is taken below /work, where /tmp does not exist"
    assert not os.path.exists("/tmp/escaped.txt")
    for source in ("/etc/passwd", "../../../etc/passwd", "../bob/secret.txt",
                   os.path.join(gateway.work_dir, "users.json")):
        status, body = raw(gateway, "POST", "/api/contents", token, {"copy_from": source})
        assert refused(status, body), (source, status, body)
    assert raw(gateway, "GET", "/api/contents/mine.txt", token)[1]["content"] == "mallory's"


@pytest.mark.as_cell
def test_symlinks_planted_by_a_cell_are_never_followed(gateway, mallory, bobs_file):
    """A cell plants links in /work to the host's /etc, /etc/passwd, bob's file by its host
    path and the gateway's users.json, then asks the API to read, write, copy and list them."""
    token, kernel_id = mallory
    users_json = os.path.join(gateway.work_dir, "users.json")
    before = open(users_json).read()
    out, error = cell(gateway, kernel_id, token, f"""
import os
for name, target in [('etc', '/etc'), ('pw', '/etc/passwd'), ('bobs', {bobs_file!r}),
                     ('bobdir', {os.path.dirname(bobs_file)!r}), ('users', {users_json!r}),
                     ('up', '..')]:
    os.symlink(target, '/work/' + name)
print('planted')
""")
    assert (out, error) == ("planted\n", None)
    for path in ("etc/passwd", "pw", "bobs", "bobdir/secret.txt", "users", "up/bob/secret.txt",
                 "etc", "bobdir"):
        status, body = raw(gateway, "GET", f"/api/contents/{path}", token)
        assert status == 400 and "link" in body["message"], (path, status, body)
    for path in ("pw", "users", "bobs", "etc/cellbox-pwned", "bobdir/new.txt"):
        status, body = raw(gateway, "PUT", f"/api/contents/{path}", token,
                           {"type": "file", "format": "text", "content": "pwned"})
        assert status == 400 and "link" in body["message"], (path, status, body)
    for source in ("pw", "bobs", "etc/passwd"):
        status, body = raw(gateway, "POST", "/api/contents", token, {"copy_from": source})
        assert status == 400 and "link" in body["message"], (source, body)
    assert raw(gateway, "PATCH", "/api/contents/pw", token, {"path": "pw2"})[0] == 400
    listing = raw(gateway, "GET", "/api/contents", token)[1]
    assert [m["name"] for m in listing["content"]] == ["mine.txt"], "links are not listed"
    # Deleting a link removes the link, not what it points to.
    assert raw(gateway, "DELETE", "/api/contents/pw", token)[0] == 204
    assert raw(gateway, "DELETE", "/api/contents/bobs", token)[0] == 204
    assert open("/etc/passwd").read().startswith("root:")
    assert open(bobs_file).read() == "bob-secret-7781"
    assert open(users_json).read() == before
    assert not os.path.exists("/etc/cellbox-pwned")


@pytest.mark.as_cell
def test_hard_links_and_special_files(gateway, mallory):
    """Hard links to host files, a FIFO that would block a reader, and a write through a
    hard-linked name."""
    token, kernel_id = mallory
    out, error = cell(gateway, kernel_id, token, """
import os
refused = 0
for target in ('/etc/passwd', '/etc/shadow'):
    try:
        os.link(target, '/work/h' + str(refused))
    except OSError:
        refused += 1
fifo = True
try:
    os.mkfifo('/work/fifo')
except PermissionError:
    fifo = False  # the sandbox's seccomp policy refuses mknod
open('/work/a.txt', 'w').write('shared inode')
os.link('/work/a.txt', '/work/b.txt')
print(refused, fifo)
""")
    assert error is None and out.split()[0] == "2", out
    if out.split()[1] == "True":
        status, body = raw(gateway, "GET", "/api/contents/fifo", token)
        assert status == 400, "a FIFO is not read (it would block the gateway)"
        status, body = raw(gateway, "PUT", "/api/contents/fifo", token,
                           {"type": "file", "format": "text", "content": "x"})
        assert status == 400
        assert raw(gateway, "DELETE", "/api/contents/fifo", token)[0] == 204
    # Saving replaces the name's file: the other name keeps its content.
    assert raw(gateway, "PUT", "/api/contents/a.txt", token,
               {"type": "file", "format": "text", "content": "new"})[0] == 200
    assert raw(gateway, "GET", "/api/contents/b.txt", token)[1]["content"] == "shared inode"
    for name in ("a.txt", "b.txt"):
        assert raw(gateway, "DELETE", f"/api/contents/{name}", token)[0] == 204


def test_huge_bodies_and_huge_files(gateway, mallory):
    """A PUT body over --max-message-bytes, a GET of a file over it written by a cell, paths
    and names over PATH_MAX and NAME_MAX, and a notebook nested 100 000 deep."""
    token, kernel_id = mallory
    content = "x" * (MAX_BODY + 10)
    status, body = raw(gateway, "PUT", "/api/contents/huge.txt", token,
                       {"type": "file", "format": "text", "content": content})
    assert status == 413 and "max_message_bytes" in body["message"]
    out, error = cell(gateway, kernel_id, token,
                      f"open('/work/huge.bin', 'wb').write(b'y' * {2 * MAX_BODY}); print('ok')")
    assert (out, error) == ("ok\n", None)
    status, body = raw(gateway, "GET", "/api/contents/huge.bin", token)
    assert status == 413 and "--max-message-bytes" in body["message"]
    assert raw(gateway, "POST", "/api/contents", token, {"copy_from": "huge.bin"})[0] == 413
    assert raw(gateway, "DELETE", "/api/contents/huge.bin", token)[0] == 204
    status, body = raw(gateway, "GET", "/api/contents/" + "a/" * 2500, token)
    assert status == 400 and "4096" in body["message"]
    long_name = "a" * 300
    status, body = raw(gateway, "GET", f"/api/contents/{long_name}", token)
    assert status == 400 and "255" in body["message"]
    deep = ("[" * 100000) + ("]" * 100000)
    status, body = raw(gateway, "PUT", "/api/contents/deep.ipynb", token,
                       ('{"type": "notebook", "content": {"cells": ' + deep + "}}").encode())
    assert status == 400


def test_another_users_files_are_out_of_reach(gateway, mallory, bobs_file):
    """Bob's file by its name in mallory's tree, by ../bob/, by the host path, and through
    the admin's own /work."""
    token, _ = mallory
    for target in ("/api/contents/secret.txt", "/api/contents/../bob/secret.txt",
                   "/api/contents/%2e%2e/bob/secret.txt",
                   "/api/contents" + bobs_file, "/api/contents/users/bob/secret.txt"):
        status, body = raw(gateway, "GET", target, token)
        assert refused(status, body) and "bob-secret" not in json.dumps(body), (target, body)
    status, body = raw(gateway, "GET", "/api/contents/secret.txt", ADMIN_TOKEN)
    assert status == 404, "the admin's contents are the admin's own /work"
    assert open(bobs_file).read() == "bob-secret-7781"
    assert gateway.wait_for_log("contents request refused")
