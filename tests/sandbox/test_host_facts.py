"""The host facts the escape suite adapts to, and how their expectations follow from them."""

import signal
import tempfile

import pytest

import host_facts
from test_escape import PROBES, probe_spec


def test_a_call_that_came_back_runs_on_the_host():
    assert host_facts.classify_foreign_abi_run(0, "ESCAPED int 0x80 getpid returned 812\n") == "runs"
    # x32 on a kernel built without it: dispatched, answered ENOSYS; seccomp sees it first.
    assert host_facts.classify_foreign_abi_run(0, "ESCAPED x32 getpid returned -38\n") == "runs"


def test_a_host_fault_is_named_by_its_signal():
    assert host_facts.classify_foreign_abi_run(-signal.SIGSEGV, "") == "SIGSEGV"
    assert host_facts.classify_foreign_abi_run(-signal.SIGILL, "") == "SIGILL"


def test_an_unexplained_outcome_is_an_error_not_a_guess():
    with pytest.raises(RuntimeError):
        host_facts.classify_foreign_abi_run(1, "Traceback ...")


@pytest.mark.parametrize("name", ["34_x32_syscall.py", "35_int80.py"])
def test_foreign_abi_probes_expect_what_this_host_allows(name):
    outcome = host_facts.foreign_abi_outcome(name)
    spec = probe_spec(next(p for p in PROBES if p.name == name))
    if outcome == "runs":
        assert (spec["expect"], spec["expect_signal"]) == ("seccomp", None)
    else:
        assert (spec["expect"], spec["expect_signal"]) == ("signal", outcome)
    assert spec["host_note"].startswith("host ")


def test_other_probes_keep_their_declared_verdict():
    spec = probe_spec(next(p for p in PROBES if p.name.startswith("14_")))
    assert spec["expect_signal"] is None and spec["host_note"] == ""


def test_idmapped_mount_check_tells_a_capable_filesystem_from_one_without():
    # /proc never allows idmapped mounts; the suite's own temporary directory is what the zygote
    # and gateway tests need, and a reason is given either way.
    assert "no idmapped mount" in host_facts.idmapped_mount_problem("/proc")
    problem = host_facts.idmapped_mount_problem(tempfile.gettempdir())
    assert problem is None or "no idmapped mount" in problem
