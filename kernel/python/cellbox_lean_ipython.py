"""Shorter paths through IPython's per-cell work, for the kernel's CPU per cell.

Compiled into cellbox-kernel and applied once by cellbox_kernel.install. Each shortcut takes
a step IPython would take for nothing (a search that cannot match, a check that cannot
succeed, a queue nobody drains) or does the same steps with less overhead; whatever it is not
sure about goes through IPython's own code. tests/kernel/test_ipython_syntax.py runs what
they hand back to IPython.
"""

import inspect
import sys
import traceback

from IPython.core import formatters
from IPython.lib import pretty
from IPython.utils.dir2 import get_real_method


def apply(shell):
    _skip_needless_token_transforms(shell.input_transformer_manager)
    _lighten_formatter_calls()
    _skip_needless_await_check(shell)
    _skip_history_database_queue(shell.history_manager)


# ---- input ----------------------------------------------------------------------------------

def _skip_needless_token_transforms(manager):
    """IPython tokenises every cell again (tokenize, in Python: ~0.1 ms of a one-line cell)
    to look for its special syntax. Each of its token transformers needs a '!', '?' or '%'
    somewhere in the cell (magics, shell commands, help) or a physical line whose first token
    is one of the escapes ',', ';' or '/' (autocall): a cell with none of them is returned
    unchanged, as the search would return it. Other cells, and a manager whose list of token
    transformers was changed, go through IPython's search."""
    default_transformers = list(manager.token_transformers)
    ipython_search = manager.do_token_transforms

    def do_token_transforms(lines):
        if manager.token_transformers != default_transformers:
            return ipython_search(lines)
        for line in lines:
            if "!" in line or "?" in line or "%" in line:
                return ipython_search(lines)
            # tokenize skips only these before a line's first token.
            if line.lstrip(" \t\f")[:1] in (",", ";", "/"):
                return ipython_search(lines)
        return lines

    manager.do_token_transforms = do_token_transforms


def _skip_needless_await_check(shell):
    """Before running a cell IPython compiles it once more only to see whether it awaits at
    top level. That needs the word 'await' or 'async' in the code (await, async for, async
    with, async comprehensions): an ASCII cell with neither is not asynchronous, and the
    compile is skipped. Others go through IPython's check."""
    ipython_check = shell.should_run_async

    def should_run_async(raw_cell, *, transformed_cell=None, preprocessing_exc_tuple=None):
        if (transformed_cell is not None and transformed_cell.isascii()
                and "await" not in transformed_cell and "async" not in transformed_cell):
            return False
        return ipython_check(raw_cell, transformed_cell=transformed_cell,
                             preprocessing_exc_tuple=preprocessing_exc_tuple)

    shell.should_run_async = should_run_async


class _NoDatabaseQueue(list):
    """A history write queue that keeps nothing (see _skip_history_database_queue)."""

    def append(self, item):
        pass


def _skip_history_database_queue(history_manager):
    """Without the SQLite history (make_shell_app) IPython still queues every cell's source
    for the database and signals the saving thread, which does not run: the queue only grew
    (two copies of every cell's source for the kernel's lifetime) and each cell paid for a
    lock and an Event. In, Out, _i<n> and the history ranges do not read that queue."""
    if history_manager.enabled:
        return
    history_manager.db_input_cache = _NoDatabaseQueue()
    history_manager.db_output_cache = _NoDatabaseQueue()
    # The saving thread is signalled when the queue holds db_cache_size entries: never now.
    history_manager.db_cache_size = 1


# ---- result formatting ----------------------------------------------------------------------

_SETTLED = frozenset(("enabled", "singleton_printers", "type_printers", "deferred_printers",
                      "print_method"))
_IPYTHON = object()  # the lookup must be IPython's own
_NONE = object()  # no registered printer


def _settled_values(formatter):
    """The formatter's trait values, read from the dictionary where traitlets keeps them once
    set (a read through each trait's descriptor costs ~0.5 us; a formatter reads about
    fifteen per result); None when some are not set yet or the class changes the lookup."""
    cls = type(formatter)
    base = formatters.BaseFormatter
    values = formatter._trait_values
    if (cls.lookup is not base.lookup or cls.lookup_by_type is not base.lookup_by_type
            or cls._in_deferred_types is not base._in_deferred_types
            or not _SETTLED <= values.keys()):
        return None
    return values


def _registered_printer(values, obj):
    """IPython's lookup and lookup_by_type on settled values: the printer, _NONE, or _IPYTHON
    for a printer still registered by name (IPython moves it into the type printers)."""
    singletons = values["singleton_printers"]
    if id(obj) in singletons:
        return singletons[id(obj)]
    type_printers = values["type_printers"]
    deferred = values["deferred_printers"]
    for klass in pretty._get_mro(formatters._get_type(obj)):
        if klass in type_printers:
            return type_printers[klass]
        if deferred and (getattr(klass, "__module__", None),
                         getattr(klass, "__name__", None)) in deferred:
            return _IPYTHON
    return _NONE


def _settled_call(ipython_call, use_printer, use_method):
    """A formatter's __call__ (the shape BaseFormatter, IPythonDisplayFormatter and
    MimeBundleFormatter share: registered printer, else the print method) on settled
    values, IPython's own when the values are not settled."""

    def call(self, obj, *args, **kwargs):
        values = _settled_values(self)
        if values is None:
            return ipython_call(self, obj, *args, **kwargs)
        if not values["enabled"]:
            return None
        printer = _registered_printer(values, obj)
        if printer is _IPYTHON:
            return ipython_call(self, obj, *args, **kwargs)
        if printer is not _NONE:
            return use_printer(printer, obj)
        method = get_real_method(obj, values["print_method"])
        if method is not None:
            return use_method(method, *args, **kwargs)
        return None

    return call


def _display_printer(printer, obj):
    printer(obj)
    return True


def _display_method(method):
    method()
    return True


_SETTLED_CALLS = {
    formatters.BaseFormatter: (lambda printer, obj: printer(obj), lambda method: method()),
    formatters.IPythonDisplayFormatter: (_display_printer, _display_method),
    formatters.MimeBundleFormatter: (
        lambda printer, obj: printer(obj),
        lambda method, include=None, exclude=None: method(include=include, exclude=exclude)),
}


def _lighten_formatter_calls():
    """Every display formatter's __call__ (eleven per cell result) is wrapped by
    `decorator`, which binds the arguments to the signature with inspect on each call (~10 us
    each). Called with the object and keywords of the method, as the display machinery calls
    them, the same wrapper without the binding: IPython's catch_format_error, the same steps.
    Other calls keep IPython's wrapper. The formatters whose __call__ has the shared shape
    also read their settled traits directly (_settled_call)."""

    def lean(decorated, cls):
        method = decorated.__wrapped__
        # Keywords that bind as they are (the mime-bundle formatter's include and exclude).
        parameters = list(inspect.signature(method).parameters.values())[2:]
        keywords = frozenset(p.name for p in parameters
                             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if cls in _SETTLED_CALLS:
            method = _settled_call(method, *_SETTLED_CALLS[cls])

        def __call__(self, *args, **kwargs):
            if len(args) != 1 or not keywords.issuperset(kwargs):
                return decorated(self, *args, **kwargs)
            try:
                result = method(self, *args, **kwargs)
            except NotImplementedError:
                return self._check_return(None, args[0])
            except Exception:
                exc_info = sys.exc_info()
                ip = formatters.get_ipython()
                if ip is not None:
                    ip.showtraceback(exc_info)
                else:
                    traceback.print_exception(*exc_info)
                return self._check_return(None, args[0])
            return self._check_return(result, args[0])

        __call__.__wrapped__ = decorated.__wrapped__
        __call__.__doc__ = decorated.__doc__
        __call__._cellbox_lean = True
        return __call__

    pending = [formatters.BaseFormatter]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        decorated = cls.__dict__.get("__call__")
        if (decorated is not None and hasattr(decorated, "__wrapped__")
                and not getattr(decorated, "_cellbox_lean", False)):
            cls.__call__ = lean(decorated, cls)
