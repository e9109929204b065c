"""Hibernation of a kernel's user namespace, compiled into cellbox-kernel.

The gateway asks for it with a silent execute_request (store_history false, so the user's
execution count and history do not move) whose code calls `hibernate(directory)` or
`restore(directory)`. `directory` is the kernel's private ipc directory, the one place of the
sandbox that is the kernel's and that the gateway can read on the host: the image is written
and read there, inside the sandbox; the gateway only moves its bytes and never unpickles them.

Image layout: MAGIC, then records, each a 12-byte header (kind, flags, name length, payload
length) + name + payload. Kind: "M" metadata (JSON), "V" one namespace value (dill), "O" one
Out entry (dill), "B" an out-of-band buffer (pickle protocol 5) of the next V or O record, "P"
padding (ignored: it puts the next B record's payload on a 64-byte boundary, so the arrays
restored over it are aligned). Flag 1: payload zlib-compressed (pickles only, when it pays). Each value is pickled alone so
one that cannot be saved is named in the manifest with the reason instead of sinking the whole
image (objects shared between two names become two copies on restore).

Restore maps the image copy-on-write (MAP_PRIVATE) instead of reading it: numpy arrays and
pandas frames come back as views of the mapping, writable (a page written is copied then), and
a 100 MiB array costs no copy and no page until it is touched. The gateway hands the store's
file itself over a Unix socket (EXCHANGE/image.sock, a read-only descriptor) when the sandbox's
uid cannot write it; otherwise it copies the image into EXCHANGE first.
"""

import io
import json
import mmap
import os
import socket
import struct
import sys
import time
import types
import zlib

MAGIC = b"CELLBOX-HIBERNATE-1\n"
IMAGE = "hibernate.img"
MANIFEST = "hibernate.json"
RESTORED = "restore.json"
HANDOVER = "image.sock"
_ALIGN = 64
_HEADER = struct.Struct("<cBHQ")
_MAX_NAME = 4096
# IPython's own names: kept by IPython itself, or rebuilt from In/Out.
_SHELL_NAMES = {"In", "Out", "_oh", "_ih", "_dh", "exit", "quit", "get_ipython", "_", "__",
                "___", "_i", "_ii", "_iii", "__builtin__", "__builtins__", "__name__",
                "__doc__", "__package__", "__loader__", "__spec__"}
_announcement = None


def _shell():
    from IPython import get_ipython
    shell = get_ipython()
    if shell is None:
        raise RuntimeError("no IPython shell in this process")
    return shell


def _is_history_name(name):
    # _5 (Out[5]) and _i5 (In[5]): rebuilt from In/Out on restore.
    rest = name[2:] if name.startswith("_i") else name[1:]
    return name.startswith("_") and rest.isdigit()


def _user_names(shell):
    hidden = getattr(shell, "user_ns_hidden", {})
    for name, value in list(shell.user_ns.items()):
        if name in _SHELL_NAMES or _is_history_name(name):
            continue
        if name in hidden and hidden[name] is value:
            continue  # put there by IPython or the kernel, not by the user
        yield name, value


def _reason(error):
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 300 else text[:297] + "..."


class _Pickler:
    """dill's pickler, except that numpy arrays go out of band: dill pickles every ndarray with
    its protocol-2 reduction, in band (a copy into the pickle at hibernation, and another out
    of it at restore), while numpy's own protocol-5 reduction hands a contiguous array's memory
    to buffer_callback as it is (pandas frames hold their columns in such arrays)."""

    _class = None

    @classmethod
    def make(cls, out, buffer_callback):
        if cls._class is None:
            import dill

            class Pickler(dill.Pickler):
                def save(self, obj, save_persistent_id=True):
                    numpy = sys.modules.get("numpy")
                    if numpy is None or type(obj) is not numpy.ndarray or self.proto < 5:
                        return super().save(obj, save_persistent_id)
                    memoized = self.memo.get(id(obj))
                    if memoized is not None:
                        self.write(self.get(memoized[0]))
                        return None
                    return self.save_reduce(*obj.__reduce_ex__(self.proto), obj=obj)

            cls._class = Pickler
        return cls._class(out, 5, recurse=True, buffer_callback=buffer_callback)


def _dumps(value):
    if isinstance(value, io.IOBase):
        # dill would reopen the path at restore, silently another file at another position.
        raise TypeError("an open file: its descriptor and position do not outlive the process")
    # recurse: a cell's function takes the globals it uses, not the whole namespace (which
    # holds the shell itself); _rebind gives it the live namespace back on restore.
    # Protocol 5 hands large contiguous buffers (numpy arrays) over out of band: written
    # straight from the array, and restored as views of the mapped image, without copies in
    # between (what makes a 100 MiB resume fast).
    buffers, out = [], io.BytesIO()
    _Pickler.make(out, buffers.append).dump(value)
    try:
        return out.getvalue(), [buffer.raw() for buffer in buffers]
    except BufferError:  # a non-contiguous buffer: in band, then
        out = io.BytesIO()
        _Pickler.make(out, None).dump(value)
        return out.getvalue(), []


def _rebind(value, namespace):
    """A function or class defined in a cell, loaded with globals of its own, made to use the
    kernel's namespace again (so it sees names defined after the restore)."""
    if isinstance(value, types.FunctionType) and value.__module__ in ("__main__", None):
        fresh = types.FunctionType(value.__code__, namespace, value.__name__,
                                   value.__defaults__, value.__closure__)
        fresh.__kwdefaults__ = value.__kwdefaults__
        fresh.__qualname__ = value.__qualname__
        fresh.__dict__.update(value.__dict__)
        fresh.__module__ = value.__module__
        return fresh
    if isinstance(value, type) and value.__module__ == "__main__":
        for attribute, member in list(vars(value).items()):
            if isinstance(member, types.FunctionType):
                try:
                    setattr(value, attribute, _rebind(member, namespace))
                except (AttributeError, TypeError):
                    pass
    return value


def _compress(payload):
    # Worth it only when a sample shrinks: random floats do not, and compressing them costs
    # more time than writing them.
    sample = payload[:65536]
    if len(sample) < 256 or len(zlib.compress(sample, 1)) > 0.9 * len(sample):
        return 0, payload
    return 1, zlib.compress(payload, 1)


def _write_record(out, kind, name, payload):
    encoded = name.encode("utf-8")
    # Out-of-band buffers (array data) are stored as they are: restore maps them, where a
    # compressed one would cost its whole size in decompression and memory up front.
    flags, body = (0, payload) if kind == b"B" else _compress(payload)
    written = 0
    if kind == b"B":
        # The payload on a 64-byte boundary (a P record before it if needed): numpy arrays
        # restored over the mapping are then aligned, as they were.
        at = out.tell() + _HEADER.size + len(encoded)
        if at % _ALIGN:
            pad = -(at + _HEADER.size) % _ALIGN
            out.write(_HEADER.pack(b"P", 0, 0, pad))
            out.write(bytes(pad))
            written = _HEADER.size + pad
    out.write(_HEADER.pack(kind, flags, len(encoded), len(body)))
    out.write(encoded)
    out.write(body)
    return written + _HEADER.size + len(encoded) + len(body)


def hibernate(directory, limit_bytes=0):
    """Saves the namespace into DIRECTORY/hibernate.img (atomically) and describes it in
    DIRECTORY/hibernate.json: saved names, and every name not saved with the reason."""
    started = time.monotonic()
    shell = _shell()
    saved, modules, failed = [], {}, {}
    meta = {
        "execution_count": shell.execution_count,
        "cwd": os.getcwd(),
        "In": [str(cell) for cell in shell.user_ns.get("In", [])],
        "modules": modules,
        "imported": sorted(n for n in list(sys.modules) if "." not in n and not n.startswith("_")),
    }
    temporary = os.path.join(directory, IMAGE + ".tmp")
    size = len(MAGIC)
    with open(temporary, "wb") as out:
        out.write(MAGIC)
        for name, value in _user_names(shell):
            if isinstance(value, types.ModuleType):
                modules[name] = value.__name__  # re-imported on restore
                continue
            try:
                payload, buffers = _dumps(value)
            except BaseException as error:  # noqa: B902 - a value's __reduce__ may raise anything
                failed[name] = _reason(error)
                continue
            needed = len(payload) + sum(buffer.nbytes for buffer in buffers)
            if limit_bytes and size + needed > limit_bytes:
                failed[name] = f"image size limit: {needed} bytes would exceed {limit_bytes}"
                continue
            for buffer in buffers:  # before the value they belong to
                size += _write_record(out, b"B", name, buffer)
            size += _write_record(out, b"V", name, payload)
            saved.append(name)
            del payload, buffers
        out_cache = shell.user_ns.get("Out", {})
        for number, value in list(out_cache.items()):
            try:
                payload, buffers = _dumps(value)
            except BaseException as error:  # noqa: B902
                failed[f"Out[{number}]"] = _reason(error)
                continue
            for buffer in buffers:
                size += _write_record(out, b"B", str(number), buffer)
            size += _write_record(out, b"O", str(number), payload)
        size += _write_record(out, b"M", "meta", json.dumps(meta).encode())
        # No fsync: this file is a hand-over; the gateway's copy into its store is the one made
        # durable.
    os.replace(temporary, os.path.join(directory, IMAGE))
    manifest = {
        "saved": saved,
        "modules": modules,
        "not_saved": failed,
        "execution_count": shell.execution_count,
        "image_bytes": os.path.getsize(os.path.join(directory, IMAGE)),
        "ms": round((time.monotonic() - started) * 1000, 3),
    }
    _write_json(os.path.join(directory, MANIFEST), manifest)
    return manifest


def _write_json(path, document):
    temporary = path + ".tmp"
    with open(temporary, "w") as out:
        json.dump(document, out)
    os.replace(temporary, path)


def _read_records(data):
    view = memoryview(data)
    if bytes(view[: len(MAGIC)]) != MAGIC:
        raise ValueError("not a cellbox hibernation image")
    at = len(MAGIC)
    while at < len(view):
        if at + _HEADER.size > len(view):
            raise ValueError("truncated record header")
        kind, flags, name_len, body_len = _HEADER.unpack_from(view, at)
        at += _HEADER.size
        if name_len > _MAX_NAME or at + name_len + body_len > len(view):
            raise ValueError("truncated record")
        name = bytes(view[at: at + name_len]).decode("utf-8")
        at += name_len
        body = view[at: at + body_len]
        at += body_len
        # Decompressed buffers become bytearrays: numpy arrays on them stay writable.
        yield kind, name, (bytearray(zlib.decompress(body)) if flags & 1 else body)


def _map_image(directory):
    """The image, mapped copy-on-write: the store's file handed over by the gateway on
    DIRECTORY/image.sock (a read-only descriptor), else the copy DIRECTORY/hibernate.img."""
    handover = os.path.join(directory, HANDOVER)
    if os.path.lexists(handover):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as link:
            link.settimeout(30)
            link.connect(handover)
            _, fds, _, _ = socket.recv_fds(link, 1, 1)
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise ValueError("the gateway handed over no image")
        fd = fds[0]
    else:
        fd = os.open(os.path.join(directory, IMAGE), os.O_RDONLY | os.O_CLOEXEC)
    try:
        # ACCESS_COPY: MAP_PRIVATE, writable; nothing written reaches the file.
        return mmap.mmap(fd, 0, access=mmap.ACCESS_COPY)
    finally:
        os.close(fd)


def restore(directory):
    """Loads DIRECTORY/hibernate.img into this kernel's namespace; writes what was and was
    not restored to DIRECTORY/restore.json and announces it on the next cell's output. Raises
    if the image cannot be read at all (the gateway then gives the user a fresh kernel)."""
    started = time.monotonic()
    import dill  # warm in a zygote's session (cellbox_zygote.KERNEL_MODULES)
    shell = _shell()
    phases = {"import_ms": round((time.monotonic() - started) * 1000, 3)}
    data = _map_image(directory)
    phases["map_ms"] = round((time.monotonic() - started) * 1000, 3)
    values, outs, meta, pending = {}, {}, None, []
    for kind, name, body in _read_records(data):
        if kind == b"M":
            meta = json.loads(bytes(body))
        elif kind == b"B":
            pending.append(body)
        elif kind in (b"V", b"O"):
            (values if kind == b"V" else outs)[name] = (body, pending)
            pending = []
    if meta is None:
        raise ValueError("the image has no metadata record")
    del data
    phases["parse_ms"] = round((time.monotonic() - started) * 1000, 3)
    restored, not_restored = [], {}
    for name, module in meta.get("modules", {}).items():
        try:
            shell.user_ns[name] = __import__(module, fromlist=["_"])
            restored.append(name)
        except BaseException as error:  # noqa: B902
            not_restored[name] = _reason(error)
    for name, (body, buffers) in values.items():
        try:
            shell.user_ns[name] = _rebind(dill.loads(body, buffers=buffers), shell.user_ns)
            restored.append(name)
        except BaseException as error:  # noqa: B902 - a value's state may raise anything
            not_restored[name] = _reason(error)
    phases["loads_ms"] = round((time.monotonic() - started) * 1000, 3)
    out_cache = shell.user_ns.setdefault("Out", {})
    for number, (body, buffers) in outs.items():
        try:
            out_cache[int(number)] = dill.loads(body, buffers=buffers)
        except BaseException as error:  # noqa: B902
            not_restored[f"Out[{number}]"] = _reason(error)
    history = shell.user_ns.get("In")
    if isinstance(history, list) and meta.get("In"):
        history[:] = meta["In"]
    count = int(meta.get("execution_count", shell.execution_count))
    try:
        import cellbox_native  # xeus numbers the replies itself: shift them to match
        cellbox_native.set_execution_count_offset(count - shell.execution_count)
    except ImportError:
        pass
    shell.execution_count = count
    try:
        os.chdir(meta.get("cwd", "/work"))
    except OSError as error:
        not_restored["cwd"] = _reason(error)
    report = {"restored": restored, "not_restored": not_restored,
              "execution_count": shell.execution_count,
              "ms": round((time.monotonic() - started) * 1000, 3), "phases": phases}
    _write_json(os.path.join(directory, RESTORED), report)
    _announce_on_next_cell(shell, report, _not_saved(directory))
    return report


def describe(report, not_saved=None):
    """One line for the user: what came back and what did not, and why."""
    lost = dict(not_saved or {})
    lost.update(report.get("not_restored", {}))
    text = (f"[cellbox] session resumed from hibernation: {len(report.get('restored', []))} "
            f"names restored ({', '.join(sorted(report.get('restored', []))) or 'none'})")
    if lost:
        text += "; not restored: " + "; ".join(f"{n} ({why})" for n, why in sorted(lost.items()))
    return text + "\n"


def _not_saved(directory):
    # The manifest written at hibernation, copied back beside the image by the gateway.
    try:
        with open(os.path.join(directory, MANIFEST)) as source:
            names = json.load(source).get("not_saved", {})
        return names if isinstance(names, dict) else {}
    except (OSError, ValueError, AttributeError):
        return {}


def _announce_on_next_cell(shell, report, not_saved):
    """The user's next cell starts with one line saying what came back (IPython's
    pre_run_cell event, removed after its first call)."""
    global _announcement
    _announcement = describe(report, not_saved)

    def announce(*_args):
        global _announcement
        shell.events.unregister("pre_run_cell", announce)
        if _announcement:
            sys.stdout.write(_announcement)
            _announcement = None

    shell.events.register("pre_run_cell", announce)
