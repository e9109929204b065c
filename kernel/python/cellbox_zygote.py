"""Python side of the zygote (cellbox-kernel --zygote), compiled into the binary.

The zygote imports what every session needs once; each session is a fork of it. This module
prepares the interpreter for forking (warm_up) and turns a forked copy back into a fresh,
independent session (enter_session): nothing the zygote did may show up as shared state.
"""

import gc
import importlib
import os
import sys
import time
import traceback

# What every kernel imports while it starts (xeus-python's configure, the cellbox support
# module, IPython's shell); importing them here is most of the start-up time saved.
KERNEL_MODULES = [
    "IPython",
    "IPython.core.interactiveshell",
    "IPython.core.completer",
    "IPython.core.error",
    "traitlets.config",
    "xeus_python_shell",
    "xeus_python_shell.shell",
    "getpass",
    "signal",
    "traceback",
    "types",
    # What a resumed session unpickles its hibernation image with (cellbox_hibernate).
    "dill",
]


def warm_up(modules):
    """Imports the kernel's and the user's warm modules; returns the time taken in ms."""
    started = time.perf_counter()
    for name in KERNEL_MODULES:
        importlib.import_module(name)
    for name in modules:
        if not name:
            continue
        importlib.import_module(name)
        if name == "matplotlib":
            # The backend comes from MPLBACKEND (the inline one), read when matplotlib is
            # imported. matplotlib_inline itself must not be imported here: it hooks into the
            # running IPython shell at import time, and the zygote has none.
            importlib.import_module("matplotlib.pyplot")
    return (time.perf_counter() - started) * 1000


def freeze():
    """The last step before the zygote forks its first session."""
    # IPython keeps /dev/null open for the life of the process; a session closes every
    # inherited descriptor, so it must not inherit that one (enter_session reopens it).
    import IPython.utils.io

    IPython.utils.io.devnull.close()
    sys.stdout.flush()
    sys.stderr.flush()
    # Objects alive now are never collected: the collector does not touch (and so copy)
    # the zygote's pages in every session.
    gc.collect()
    gc.freeze()


def enter_session(environment, kernel):
    """In a forked, confined session, before any of its code runs."""
    # os.environ is the zygote's copy; the sandbox replaced the process environment.
    for key in list(os.environ):
        del os.environ[key]
    os.environ.update(environment)
    if kernel:
        import IPython.utils.io

        IPython.utils.io.devnull = open(os.devnull, "w", encoding="utf-8")
    # random reseeds itself after a fork (os.register_at_fork); numpy's global generator
    # does not, and would otherwise repeat the same numbers in every session.
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


def run_script(code, argv):
    """Runs `code` as a program (`python -c code argv...`); returns its exit status."""
    import types

    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    sys.argv = ["-c", *argv]
    status = 0
    try:
        exec(compile(code, "<string>", "exec"), main.__dict__)
    except SystemExit as e:
        if e.code is None:
            status = 0
        elif isinstance(e.code, int):
            status = e.code
        else:
            print(e.code, file=sys.stderr)
            status = 1
    except BaseException:
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    return status
