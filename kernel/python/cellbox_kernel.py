"""Python side of cellbox-kernel, compiled into the binary and run once at start-up.

The C++ kernel exposes `cellbox_native` (interrupt reasons, stdin); this module turns its
signals into Python exceptions and adapts IPython to the kernel protocol.
"""

import builtins
import getpass
import signal
import sys
import traceback

import cellbox_lean_ipython
import cellbox_native
from IPython.core.error import StdinNotImplementedError


class CellTimeoutError(BaseException):
    """Raised in a cell that ran past its time limit.

    Like KeyboardInterrupt it derives from BaseException, so that `except Exception` in the
    cell does not swallow it. The kernel and its variables survive it.
    """


_prebuilt_app = None
# More than the 8 calls after which CPython 3.11 specialises a function (prebuild_shell).
_REHEARSALS_IN_THE_ZYGOTE = 16


def make_shell_app():
    """The IPython application, without the SQLite history: it writes to $HOME and costs time
    on every cell; the kernel keeps its own in-memory history for history_request.

    In a session forked from a zygote, the one the zygote built (prebuild_shell) is returned:
    initialised already, this process's own copy, and used only for the zygote's rehearsals
    (silent cells: no history, no execution count, no output)."""
    global _prebuilt_app
    if _prebuilt_app is not None:
        app, _prebuilt_app = _prebuilt_app, None
        return app
    from traitlets.config import Config
    from xeus_python_shell import shell as xshell

    class ShellApp(xshell.XPythonShellApp):
        _initialized_once = False

        def initialize(self, *args, **kwargs):
            # xeus-python initialises the app it is given; a prebuilt one is already.
            if not self._initialized_once:
                super().initialize(*args, **kwargs)
                self._initialized_once = True

        def init_shell(self):
            # As the base class, but with the application's configuration (parent=self).
            self.shell = xshell.XPythonShell.instance(
                parent=self,
                display_pub_class=xshell.XDisplayPublisher,
                displayhook_class=xshell.XDisplayHook,
                compiler_class=xshell.XCachingCompiler,
                user_ns=self.user_ns,
            )

    config = Config()
    config.HistoryManager.enabled = False
    return ShellApp(config=config)


def prebuild_shell():
    """In a zygote: builds and initialises the IPython application once, for every session
    to inherit (about 100 ms of each session's start). IPython's profile directory goes to a
    temporary directory, removed again: the zygote must not write to the host's $HOME."""
    global _prebuilt_app
    import os
    import shutil
    import tempfile

    profile_root = tempfile.mkdtemp(prefix="cellbox-zygote-ipython-")
    os.environ["IPYTHONDIR"] = profile_root
    try:
        app = make_shell_app()
        app.initialize()  # as xeus-python does
    finally:
        del os.environ["IPYTHONDIR"]
        shutil.rmtree(profile_root, ignore_errors=True)
    _prebuilt_app = app
    # CPython 3.11 specialises a function's bytecode only after its first 8 calls, and each
    # process anew: a session forked from here paid for its first cells' IPython code running
    # unspecialised (25-30% of the kernel's CPU per cell over a session's first 6 cells). The
    # zygote rehearses enough cells for every session to inherit it specialised, and applies
    # the lean shortcuts first so that their code is what gets specialised.
    cellbox_lean_ipython.apply(app.shell)
    app.shell.cellbox_lean_applied = True
    for _ in range(_REHEARSALS_IN_THE_ZYGOTE):
        _rehearse_a_cell(app.shell)


def _on_interrupt(signum, frame):
    reason = cellbox_native.take_interrupt_reason()
    if reason == "timeout":
        raise CellTimeoutError(
            f"the cell ran longer than its time limit of {cellbox_native.cell_timeout():g} s "
            "and was interrupted; the kernel and its variables are kept"
        )
    if reason == "user":
        raise KeyboardInterrupt
    # An interruption that arrived after its cell ended has nothing left to interrupt.


def _input(prompt=""):
    if not cellbox_native.stdin_allowed():
        raise StdinNotImplementedError("input() is not supported: this frontend does not accept input requests")
    return cellbox_native.request_input(str(prompt), False)


def _getpass(prompt="Password: ", stream=None):
    if not cellbox_native.stdin_allowed():
        raise StdinNotImplementedError("getpass() is not supported: this frontend does not accept input requests")
    return cellbox_native.request_input(str(prompt), True)


class _TrackingCommManager:
    """xeus-python's comm manager, remembering which targets the kernel itself serves."""

    def __init__(self, inner):
        self._inner = inner
        self.targets = set()

    def register_target(self, target_name, callback):
        self.targets.add(target_name)
        self._inner.register_target(target_name, callback)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _ignore_comm_open(comm, open_msg):
    pass


def _protect_kernel_opened_comms(shell):
    """xeus-python 0.14.3 crashes the kernel (null target) when a cell opens a comm to a target
    the kernel does not serve itself, which is how ipywidgets opens every widget. Such targets
    are registered in the kernel, as no-ops, before the comm is created."""
    comm_module = sys.modules["ipykernel.comm"]
    manager = _TrackingCommManager(shell.kernel.comm_manager)
    shell.kernel.comm_manager = manager
    base = comm_module.Comm

    class Comm(base):
        __doc__ = base.__doc__

        def __init__(self, *args, **kwargs):
            target_name = kwargs.get("target_name", "")
            if target_name not in manager.targets:
                manager.register_target(target_name, _ignore_comm_open)
            super().__init__(*args, **kwargs)

    comm_module.Comm = Comm


class _DirectStream:
    """sys.stdout and sys.stderr: a cell's text goes straight into the kernel's output
    coalescer (as the captured file descriptors' output does) instead of becoming one Jupyter
    message per write(): xeus-python's stream builds a header, a uuid and a date for each,
    ~9 us that capped print-heavy cells at ~100 MB/s. Outside a cell the original stream
    handles it. Text that cannot be UTF-8 (lone surrogates) is written with '?' in their place
    instead of failing the cell."""

    # What libraries ask of a text stream before writing (tqdm, click, rich, logging): the
    # text goes out as UTF-8 JSON.
    encoding = "utf-8"
    errors = "replace"

    def __init__(self, original, name):
        self._original = original
        self._name = name

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        try:
            written = cellbox_native.write_stream(self._name, text)
        except TypeError:  # not encodable as UTF-8
            text = text.encode("utf-8", "replace").decode("utf-8")
            written = cellbox_native.write_stream(self._name, text)
        if written:
            return len(text)
        return self._original.write(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._original, name)


def install(shell):
    """Adapts a configured shell; runs in the main thread once IPython is set up."""

    def record_error(etype, evalue, stb):
        # xeus-python stores str(etype) ("<class 'ValueError'>"); the protocol wants the name.
        shell.last_error = [etype.__name__, str(evalue), stb]

    shell._showtraceback = record_error

    ipython_showtraceback = shell.showtraceback

    def showtraceback(exc_tuple=None, *args, **kwargs):
        # IPython prints a fallback instead of calling _showtraceback when formatting fails
        # (stack_data cannot place a frame interrupted at line 0) or is itself interrupted;
        # the cell's error must still be reported.
        before = shell.last_error
        ipython_showtraceback(exc_tuple, *args, **kwargs)
        if shell.last_error is before:
            etype, evalue, tb = exc_tuple if exc_tuple else sys.exc_info()
            if etype is not None:
                shell.last_error = [etype.__name__, str(evalue),
                                    traceback.format_exception(etype, evalue, tb)]

    shell.showtraceback = showtraceback
    # `!cmd`: IPython runs it on a pseudo-terminal (pexpect), and a sandbox has none ("out of
    # pty devices"). The raw variant runs it with the kernel's own stdout and stderr, which
    # the kernel captures into the cell's streams (kept apart, where a terminal merges them);
    # `$name` expansion, `_exit_code` and Ctrl-C behave as before.
    shell.system = shell.system_raw
    _protect_kernel_opened_comms(shell)
    signal.signal(signal.SIGINT, _on_interrupt)
    builtins.input = _input
    getpass.getpass = _getpass
    builtins.CellTimeoutError = CellTimeoutError
    sys.stdout = _DirectStream(sys.stdout, "stdout")
    sys.stderr = _DirectStream(sys.stderr, "stderr")
    if not getattr(shell, "cellbox_lean_applied", False):  # the zygote's shell has them
        cellbox_lean_ipython.apply(shell)
    _rehearse_a_cell(shell)


def _rehearse_a_cell(shell):
    """Runs a cell's code paths once, invisibly, while the kernel starts (and in a zygote, for
    its sessions, before it forks them).

    A shell's first cell pays for lazy set-up (the input transformers, the compiler's cache,
    every display formatter's first lookup): milliseconds that would otherwise land on the
    user's first result. Nothing is published, counted or stored in the history.
    """
    shell.run_cell("pass", store_history=False, silent=True)
    shell.display_formatter.format(0)
    _compile_tokenizer()


def _compile_tokenizer():
    """tokenize compiles its large pattern at its first use: 3-5 ms, which the display hook
    (looking for a trailing `;`) would otherwise spend on the first cell with a result. The
    rehearsal's `pass` has none, and the lean shell no longer tokenizes a cell before running
    it. Compiled in a zygote, the pattern is every session's (copy-on-write)."""
    import io
    import tokenize

    list(tokenize.generate_tokens(io.StringIO("x = 1;\n").readline))
