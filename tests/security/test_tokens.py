"""Attacks on authentication: forged, expired and malformed JWTs, and tokens that try to
name another user or raise the server's caps."""

import time

import pytest

from conftest import ADMIN_TOKEN, b64url, jwt, user_token


def kernels_as(gateway, token):
    return gateway.request("GET", "/api/kernels", token=token)[0]


def test_alg_none_is_refused(gateway):
    """A token with alg "none" and no signature claims to be alice."""
    head = b64url(b'{"alg":"none","typ":"JWT"}')
    body = b64url(b'{"sub":"alice","exp":%d}' % (int(time.time()) + 600))
    for token in (f"{head}.{body}.", f"{head}.{body}"):
        assert kernels_as(gateway, token) == 403


def test_algorithm_confusion_is_refused(gateway):
    """A token signed HS384/HS512 or claiming RS256 with the admin token as the key."""
    import hashlib
    claims = {"sub": "alice", "exp": int(time.time()) + 600}
    assert kernels_as(gateway, jwt(claims, header={"alg": "HS384"}, algorithm=hashlib.sha384)) == 403
    assert kernels_as(gateway, jwt(claims, header={"alg": "RS256"})) == 403


def test_expired_token_is_refused(gateway):
    """A correctly signed token that expired a minute ago."""
    assert kernels_as(gateway, jwt({"sub": "alice", "exp": int(time.time()) - 60})) == 403


def test_token_signed_with_another_secret_is_refused(gateway):
    """A token signed with a guessed secret."""
    assert kernels_as(gateway, user_token("alice", secret="guess")) == 403


@pytest.mark.parametrize("sub", ["../admin", "admin", "", "a/b", "x" * 300, ".", "..", "\u0000x"])
def test_path_like_or_reserved_subjects_are_refused(gateway, sub):
    """A signed token whose subject is a path, the admin's name, empty or oversized."""
    token = jwt({"sub": sub, "exp": int(time.time()) + 600})
    assert kernels_as(gateway, token) in (400, 403)


def test_admin_token_is_not_a_signing_key_for_a_user_named_like_it(gateway):
    """The admin token itself sent as a JWT subject; a user token cannot reach admin routes."""
    assert gateway.request("GET", "/metrics", token=user_token("mallory"))[0] == 403
    assert kernels_as(gateway, ADMIN_TOKEN) == 200
