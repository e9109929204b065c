"""Idmapped work directories: a user's persistent directory, owned on disk by the user's own uid,
used by pooled sessions that each run as a fresh uid ("owner_uid" in "go" and "spawn").

Through the idmapped /work, the owner's files appear as the session's own, and what the session
creates lands on disk as the owner: the next session of the same user can use it.
"""

import os
import pathlib
import sys
import tempfile

import pytest

from conftest import SANDBOX_TESTS
from zygote_client import value_of

sys.path.insert(0, str(SANDBOX_TESTS))
import host_facts  # noqa: E402

OWNER = 200007

# The zygote's directories live under the temporary directory: a host property decides.
_problem = host_facts.idmapped_mount_problem(tempfile.gettempdir())
pytestmark = pytest.mark.skipif(_problem is not None, reason=str(_problem))


@pytest.fixture
def user_dir(zygote, tmp_path_factory):
    """/<tmp>/home/u: the user's directory, 0700 and owned by OWNER, with a 0600 file f."""
    home = pathlib.Path(zygote.root) / f"home-{os.urandom(4).hex()}"
    home.mkdir()
    path = home / "u"
    path.mkdir(mode=0o700)
    (path / "f").write_text("v1")
    os.chmod(path / "f", 0o600)
    for p in (path, path / "f"):
        os.chown(p, OWNER, OWNER)
    return path


def owner_of(path):
    info = os.stat(path)
    return info.st_uid, info.st_gid


def test_go_with_owner_uid_shows_the_owners_files_as_the_sessions(zygote, kernel, user_dir):
    pid, client, _ = kernel(deferred_workdir=True)
    answer = zygote.request("go", pid=pid, workdir=str(user_dir), owner_uid=OWNER)
    assert answer.get("ok") is True, answer
    value_of(client, "import os")
    uid = int(value_of(client, "os.getuid()"))
    assert uid != OWNER and 100000 <= uid < 200000
    assert value_of(client, "os.stat('/work/f').st_uid == os.getuid()") == "True"
    assert value_of(client, "os.stat('/work/f').st_gid == os.getgid()") == "True"
    assert value_of(client, "os.stat('/work').st_uid == os.getuid()") == "True"
    assert value_of(client, "open('/work/f').read()") == "'v1'"
    value_of(client, "open('/work/f', 'a').write('+s1')")
    value_of(client, "open('/work/new', 'w').write('from s1')")
    value_of(client, "os.mkdir('/work/sub'); open('/work/sub/x', 'w').close()")
    # On disk: everything belongs to the owner, nothing to the session's uid; the directory
    # was not handed (chowned) to the session.
    assert (user_dir / "f").read_text() == "v1+s1"
    assert (user_dir / "new").read_text() == "from s1"
    for name in ("", "f", "new", "sub", "sub/x"):
        assert owner_of(user_dir / name) == (OWNER, OWNER), name
    # A file of another uid on disk is not the session's.
    os.chown(user_dir / "new", OWNER + 1, OWNER + 1)
    assert value_of(client, "os.stat('/work/new').st_uid == os.getuid()") == "False"
    os.chown(user_dir / "new", OWNER, OWNER)


def test_the_next_session_of_the_same_owner_can_use_the_files(zygote, kernel, user_dir):
    first, client1, _ = kernel(deferred_workdir=True)
    second, client2, _ = kernel(deferred_workdir=True)
    for pid in (first, second):
        answer = zygote.request("go", pid=pid, workdir=str(user_dir), owner_uid=OWNER)
        assert answer.get("ok") is True, answer
    uid1 = value_of(client1, "__import__('os').getuid()")
    uid2 = value_of(client2, "__import__('os').getuid()")
    assert uid1 != uid2
    value_of(client1, "open('/work/shared', 'w').write('one')")
    assert value_of(client2, "open('/work/shared').read()") == "'one'"
    value_of(client2, "open('/work/shared', 'a').write(',two')")
    value_of(client2, "import os; os.rename('/work/shared', '/work/renamed')")
    assert value_of(client1, "open('/work/renamed').read()") == "'one,two'"
    assert owner_of(user_dir / "renamed") == (OWNER, OWNER)


def test_without_owner_uid_the_session_cannot_use_the_users_files(zygote, kernel, user_dir):
    # The parent of the user's directory as the workdir, without a mapping (it is handed to
    # the session's uid): the user's directory inside keeps its owner and its 0700.
    pid, client, _ = kernel(deferred_workdir=True)
    answer = zygote.request("go", pid=pid, workdir=str(user_dir.parent))
    assert answer.get("ok") is True, answer
    value_of(client, "import os")
    assert value_of(client, f"os.stat('/work/u').st_uid == {OWNER}") == "True"
    for code in ("open('/work/u/x', 'w')", "open('/work/u/f')", "os.listdir('/work/u')"):
        assert value_of(client, f"""
try:
    {code}
    r = 'allowed'
except PermissionError:
    r = 'denied'
r""") == "'denied'", code
    assert sorted(p.name for p in user_dir.iterdir()) == ["f"]
    assert owner_of(user_dir) == (OWNER, OWNER)


def test_cold_spawn_with_owner_uid_idmaps_the_workdir(zygote, kernel, user_dir):
    # An owner_gid of its own: the directory and the file carry it (the kernel refuses writes
    # to an inode with any unmapped id on an idmapped mount, gid included).
    for p in (user_dir, user_dir / "f"):
        os.chown(p, OWNER, OWNER + 1)
    pid, client, _ = kernel(deferred_workdir=True, workdir=str(user_dir), owner_uid=OWNER,
                         owner_gid=OWNER + 1)
    value_of(client, "import os")
    assert value_of(client, "os.stat('/work/f').st_uid == os.getuid()") == "True"
    assert value_of(client, "os.stat('/work/f').st_gid == os.getgid()") == "True"
    value_of(client, "open('/work/f', 'a').write('+cold'); open('/work/c', 'w').close()")
    assert value_of(client, "os.getcwd()") == "'/work'"
    assert (user_dir / "f").read_text() == "v1+cold"
    assert owner_of(user_dir / "c") == (OWNER, OWNER + 1)
    assert owner_of(user_dir) == (OWNER, OWNER + 1)  # not chowned to the session


@pytest.mark.parametrize("fields", [
    {"owner_uid": 0},
    {"owner_uid": 999},
    {"owner_uid": OWNER, "owner_gid": 0},
    {"owner_uid": -5},
    {"owner_uid": "200007"},
    {"owner_gid": OWNER},
])
def test_root_and_system_owners_are_refused(zygote, kernel, user_dir, fields):
    pid, client, _ = kernel(deferred_workdir=True)
    answer = zygote.request("go", pid=pid, workdir=str(user_dir), **fields)
    assert answer.get("ok") is not True and "owner_" in answer["error"], answer
    if fields.get("owner_uid") in (0, 999):
        assert ">= 1000" in answer["error"]
    # Nothing was mounted: /work is still the session's own tmpfs.
    assert value_of(client, "__import__('os').path.exists('/work/f')") == "False"
    dirs = zygote.new_session_dirs()
    dirs["workdir"] = str(user_dir)
    cold = zygote.request("spawn", **dirs, **fields)
    assert "pid" not in cold and "owner_" in cold["error"], cold
    assert owner_of(user_dir) == (OWNER, OWNER)


def test_owner_uid_needs_a_workdir(zygote, kernel):
    pid, _, _ = kernel(deferred_workdir=True)
    answer = zygote.request("go", pid=pid, owner_uid=OWNER)
    assert "owner_uid needs a workdir" in answer["error"], answer
