# Prepended to every probe by the escape suite. A probe prints one line per attempt:
# "BLOCKED <what>: <how>" when the sandbox stopped it, "ESCAPED <what>: <how>" when not.
import ctypes
import errno
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def syscall(number, *args):
    """Raw system call; returns (result, errno)."""
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
    return result, ctypes.get_errno()


def report(ok, what, how):
    print(("BLOCKED " if ok else "ESCAPED ") + f"{what}: {how}", flush=True)


def expect_oserror(what, action, *errnos):
    """The action must raise OSError (with one of `errnos`, when given)."""
    try:
        action()
    except OSError as e:
        report(not errnos or e.errno in errnos, what, f"{errno.errorcode.get(e.errno, e.errno)}")
    else:
        report(False, what, "succeeded")


def expect_syscall_fails(what, number, *args, errnos=(errno.EPERM,)):
    result, err = syscall(number, *args)
    report(result == -1 and err in errnos, what,
           f"returned {result}, {errno.errorcode.get(err, err)}")
