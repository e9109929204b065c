"""The Jupyter contents API on the user's /work (GET, PUT, PATCH, DELETE, POST on
/api/contents/{path}), with plain urllib: text, base64, notebooks, directories, untitled files,
copies, renames, deletes, chunked uploads, the kernel's view of the same files and the quota.
The path attacks are in tests/security/test_contents_paths.py."""

import base64
import json
import os
import re
import time

import pytest

from conftest import TOKEN, Gateway
from test_kernel_death import run_cells, stdout
from test_users import user_token

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
MODEL_KEYS = {"name", "path", "type", "format", "mimetype", "size", "created", "last_modified",
              "writable", "content"}


@pytest.fixture(scope="module")
def gateway():
    g = Gateway("--pool-size", "1")
    yield g
    g.stop()


@pytest.fixture(scope="module")
def alice():
    return user_token("alice")


def call(gateway, method, path, body=None, token=TOKEN):
    return gateway.request(method, "/api/contents" + path, body, token=token)


def put_text(gateway, token, path, text):
    return call(gateway, "PUT", path, {"type": "file", "format": "text", "content": text}, token)


def test_text_files_are_saved_read_and_described(gateway, alice):
    status, model, headers = put_text(gateway, alice, "/notes.txt", "héllo\n")
    assert status == 201 and headers["Location"] == "/api/contents/notes.txt"
    assert set(model) == MODEL_KEYS and model["content"] is None
    assert (model["name"], model["path"], model["type"], model["size"]) == \
        ("notes.txt", "notes.txt", "file", len("héllo\n".encode()))
    assert ISO.match(model["created"]) and ISO.match(model["last_modified"]), model
    assert model["writable"] is True and model["mimetype"] == "text/plain"

    status, model, _ = call(gateway, "GET", "/notes.txt", token=alice)
    assert status == 200
    assert (model["content"], model["format"], model["mimetype"]) == \
        ("héllo\n", "text", "text/plain")
    status, model, _ = call(gateway, "GET", "/notes.txt?format=base64", token=alice)
    assert base64.b64decode(model["content"]) == "héllo\n".encode() and model["format"] == "base64"
    status, model, _ = call(gateway, "GET", "/notes.txt?content=0", token=alice)
    assert status == 200 and model["content"] is None and model["size"] == 7

    status, model, _ = put_text(gateway, alice, "/notes.txt", "second")  # overwrite: 200
    assert status == 200 and model["size"] == 6
    assert call(gateway, "GET", "/notes.txt", token=alice)[1]["content"] == "second"


def test_binary_files_travel_as_base64(gateway, alice):
    data = bytes(range(256)) * 10
    status, model, _ = call(gateway, "PUT", "/blob.png", {
        "type": "file", "format": "base64", "content": base64.b64encode(data).decode()}, alice)
    assert status == 201 and model["size"] == len(data)
    status, model, _ = call(gateway, "GET", "/blob.png", token=alice)
    assert (model["format"], model["mimetype"]) == ("base64", "image/png")
    assert base64.b64decode(model["content"]) == data
    status, body, _ = call(gateway, "GET", "/blob.png?format=text", token=alice)
    assert status == 400 and "not UTF-8" in body["message"]
    status, body, _ = call(gateway, "PUT", "/bad.bin", {
        "type": "file", "format": "base64", "content": "@@not base64@@"}, alice)
    assert status == 400 and "base64" in body["message"]


def test_notebooks_are_json_models(gateway, alice):
    nb = {"cells": [{"cell_type": "code", "source": "1+1", "metadata": {}, "outputs": [],
                     "execution_count": None, "id": "a1"}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    status, model, _ = call(gateway, "PUT", "/nb.ipynb", {"type": "notebook", "content": nb},
                            alice)
    assert status == 201 and model["type"] == "notebook"
    status, model, _ = call(gateway, "GET", "/nb.ipynb", token=alice)
    assert (model["type"], model["format"], model["content"]) == ("notebook", "json", nb)
    status, model, _ = call(gateway, "GET", "/nb.ipynb?type=file&format=text", token=alice)
    assert model["type"] == "file" and json.loads(model["content"]) == nb
    put_text(gateway, alice, "/broken.ipynb", "{not json")
    status, body, _ = call(gateway, "GET", "/broken.ipynb", token=alice)
    assert status == 400 and "Unreadable Notebook" in body["message"]
    status, body, _ = call(gateway, "PUT", "/nb2.ipynb", {"type": "notebook", "content": "x"},
                           alice)
    assert status == 400 and "JSON object" in body["message"]


def test_directories_untitled_names_and_listings(gateway, alice):
    status, model, _ = call(gateway, "PUT", "/dir", {"type": "directory"}, alice)
    assert status == 201 and model["type"] == "directory"
    names = []
    for body in ({"type": "notebook"}, {"type": "notebook"}, {"type": "file", "ext": ".txt"},
                 {"type": "directory"}, {"type": "directory"}):
        status, model, headers = call(gateway, "POST", "/dir", body, alice)
        assert status == 201, model
        assert headers["Location"] == "/api/contents/" + model["path"].replace(" ", "%20")
        names.append(model["name"])
    assert names == ["Untitled.ipynb", "Untitled1.ipynb", "untitled.txt", "Untitled Folder",
                     "Untitled Folder 1"]
    put_text(gateway, alice, "/dir/.hidden", "x")
    status, model, _ = call(gateway, "GET", "/dir", token=alice)
    assert (model["type"], model["format"]) == ("directory", "json")
    listed = {m["name"]: m for m in model["content"]}
    assert set(listed) == set(names), "hidden names are left out, as in jupyter_server"
    assert all(m["content"] is None and m["path"] == "dir/" + m["name"] for m in listed.values())
    assert listed["Untitled.ipynb"]["type"] == "notebook"
    assert listed["Untitled Folder"]["type"] == "directory"
    assert call(gateway, "GET", "/dir?content=0", token=alice)[1]["content"] is None
    status, body, _ = call(gateway, "GET", "/dir?type=file", token=alice)
    assert status == 400 and "is a directory" in body["message"]
    status, body, _ = call(gateway, "GET", "/dir/untitled.txt?type=directory", token=alice)
    assert status == 400 and "not a directory" in body["message"]
    status, body, _ = call(gateway, "POST", "/dir/untitled.txt", {}, alice)
    assert status == 400 and "use PUT" in body["message"]
    status, body, _ = call(gateway, "POST", "/nowhere", {"type": "file"}, alice)
    assert status == 404 and "No such directory" in body["message"]
    status, model, _ = call(gateway, "PUT", "/dir/empty.ipynb", None, alice)  # no body: new
    assert status == 201 and model["type"] == "notebook"


def test_copy_rename_and_delete(gateway, alice):
    put_text(gateway, alice, "/src.tar.gz", "payload")
    call(gateway, "PUT", "/box", {"type": "directory"}, alice)
    copies = [call(gateway, "POST", path, {"copy_from": "src.tar.gz"}, alice)
              for path in ("", "", "/box")]
    assert [(s, m["path"]) for s, m, _ in copies] == [
        (201, "src-Copy1.tar.gz"), (201, "src-Copy2.tar.gz"), (201, "box/src.tar.gz")]
    assert call(gateway, "GET", "/box/src.tar.gz", token=alice)[1]["content"] == "payload"
    status, body, _ = call(gateway, "PUT", "/x.txt", {"copy_from": "src.tar.gz"}, alice)
    assert status == 400 and "POST" in body["message"]

    status, model, _ = call(gateway, "PATCH", "/src-Copy1.tar.gz", {"path": "box/moved.txt"},
                            alice)
    assert status == 200 and model["path"] == "box/moved.txt" and model["name"] == "moved.txt"
    assert call(gateway, "GET", "/src-Copy1.tar.gz", token=alice)[0] == 404
    status, body, _ = call(gateway, "PATCH", "/src-Copy2.tar.gz", {"path": "box/moved.txt"},
                           alice)
    assert status == 409 and "already exists" in body["message"]
    assert call(gateway, "PATCH", "/gone.txt", {"path": "x.txt"}, alice)[0] == 404
    assert call(gateway, "PATCH", "/src.tar.gz", {}, alice)[0] == 400

    status, body, _ = call(gateway, "DELETE", "/box", token=alice)
    assert status == 400 and "not empty" in body["message"]
    for path in ("/box/moved.txt", "/box/src.tar.gz", "/box", "/src-Copy2.tar.gz"):
        assert call(gateway, "DELETE", path, token=alice)[0] == 204, path
    assert call(gateway, "DELETE", "/box", token=alice)[0] == 404
    status, body, _ = call(gateway, "DELETE", "", token=alice)
    assert status == 400 and "root" in body["message"]


def test_chunked_uploads_append(gateway, alice):
    parts = [b"first-", b"second-", b"last"]
    for chunk, part in zip((1, 2, -1), parts):
        status, model, _ = call(gateway, "PUT", "/big.bin", {
            "type": "file", "format": "base64", "chunk": chunk,
            "content": base64.b64encode(part).decode()}, alice)
        assert status in (200, 201), model
    model = call(gateway, "GET", "/big.bin?format=base64", token=alice)[1]
    assert base64.b64decode(model["content"]) == b"".join(parts)
    status, body, _ = call(gateway, "PUT", "/nochunk.bin", {
        "type": "file", "format": "text", "chunk": 2, "content": "x"}, alice)
    assert status == 404 and "chunk" in body["message"]


def test_bad_requests_name_the_problem(gateway, alice):
    for body, words in [({"format": "text", "content": "x"}, "No file type"),
                        ({"type": "file", "content": "x"}, "No file format"),
                        ({"type": "file", "format": "text"}, "No file content"),
                        ({"type": "file", "format": "hex", "content": "00"}, "text or base64"),
                        ({"type": "symlink", "content": "/etc"}, "Unhandled contents type")]:
        status, answer, _ = call(gateway, "PUT", "/bad.txt", body, alice)
        assert status == 400 and words in answer["message"], (body, answer)
    status, answer, _ = gateway.request("PUT", "/api/contents/bad.txt", b"{not json",
                                        token=alice)
    assert status == 400
    for query, words in [("type=link", "Type"), ("format=hex", "Format"),
                         ("content=2", "Content")]:
        status, answer, _ = call(gateway, "GET", "?" + query, token=alice)
        assert status == 400 and words in answer["message"], query
    assert call(gateway, "GET", "/nothing-here.txt", token=alice)[0] == 404
    assert call(gateway, "GET", "/notes.txt/checkpoints", token=alice)[1] == []
    assert gateway.request("GET", "/api/contents", token=None)[0] == 401


def test_files_are_shared_with_the_users_kernel(gateway, alice):
    """What a cell writes appears in the API, and what the API writes is the user's own in
    the kernel (same owner, readable and writable there)."""
    kernel = gateway.request("POST", "/api/kernels", {}, token=alice)[1]
    try:
        put_text(gateway, alice, "/from_api.txt", "written by the API")
        results = run_cells(gateway, kernel["id"], [
            "import os\n"
            "open('/work/from_kernel.txt', 'w').write('written by a cell')\n"
            "st = os.stat('/work/from_api.txt')\n"
            "print(open('/work/from_api.txt').read(), st.st_uid == os.getuid())\n"
            "open('/work/from_api.txt', 'a').write(' and the kernel')\n"
            "os.rename('/work/from_api.txt', '/work/renamed_by_kernel.txt')\n"
            "print('ok')"], token=alice)
        assert stdout(results[0][1]) == "written by the API True\nok\n", results[0]
        assert call(gateway, "GET", "/from_kernel.txt", token=alice)[1]["content"] == \
            "written by a cell"
        assert call(gateway, "GET", "/renamed_by_kernel.txt", token=alice)[1]["content"] == \
            "written by the API and the kernel"
        uid = json.load(open(os.path.join(gateway.work_dir, "users.json")))["alice"]
        host = os.path.join(gateway.work_dir, "users", "alice", "renamed_by_kernel.txt")
        if os.geteuid() == 0:
            assert os.stat(host).st_uid == uid, "the API wrote the file as the user's uid"
    finally:
        gateway.request("DELETE", f"/api/kernels/{kernel['id']}", token=alice)


def test_users_see_only_their_own_work(gateway, alice):
    put_text(gateway, alice, "/alice-only.txt", "secret")
    bob = user_token("bob")
    status, model, _ = call(gateway, "GET", "", token=bob)
    assert status == 200 and "alice-only.txt" not in [m["name"] for m in model["content"]]
    assert call(gateway, "GET", "/alice-only.txt", token=bob)[0] == 404
    admin = call(gateway, "GET", "")[1]  # the admin token has a /work of its own
    assert "alice-only.txt" not in [m["name"] for m in admin["content"]]


def quota_enabled(gateway):
    return gateway.request("GET", "/api/status")[1].get("work", {}).get("quota") is True


def test_the_quota_holds_for_api_writes(tmp_path):
    """A write past the user's quota is a 507 naming the quota, and leaves the old file whole."""
    g = Gateway("--pool-size", "0", "--launch-pool-size", "0", "--work-quota", "16M",
                work_dir=str(tmp_path / "work"))
    try:
        if not quota_enabled(g):
            pytest.skip("no disk quotas on this host (root, loop devices and e2fsprogs needed)")
        token = user_token("carol")
        assert put_text(g, token, "/keep.txt", "old content")[0] == 201
        big = base64.b64encode(os.urandom(24 << 20)).decode()
        started = time.monotonic()
        status, body, _ = call(g, "PUT", "/keep.txt",
                               {"type": "file", "format": "base64", "content": big}, token)
        assert status == 507 and "quota" in body["message"], (status, body)
        assert time.monotonic() - started < 30
        assert call(g, "GET", "/keep.txt", token=token)[1]["content"] == "old content"
        names = [m["name"] for m in call(g, "GET", "", token=token)[1]["content"]]
        assert names == ["keep.txt"]
        hidden = os.listdir(os.path.join(g.work_dir, "users", "carol"))
        assert not [n for n in hidden if n.startswith(".~cellbox")], hidden
        assert g.wait_for_log("contents request refused")
    finally:
        g.stop()
