"""Shared pieces of the sandbox suites: the launcher's path and the escape table."""

import os
import pathlib

BUILD_DIR = pathlib.Path(os.environ.get("CELLBOX_BUILD_DIR", "build")).resolve()
SANDBOX = BUILD_DIR / "bin" / "cellbox-sandbox"
KERNEL = BUILD_DIR / "bin" / "cellbox-kernel"

# Rows of the escape table: (probe, user, expected verdict, observed verdict, passed, why the
# expectation differs from the probe's own on this host, or "")
ESCAPE_TABLE = []


def pytest_terminal_summary(terminalreporter):
    if not ESCAPE_TABLE:
        return
    write = terminalreporter.write_line
    write("")
    write("Escape suite (default policy)")
    write(f"{'attempt':<38} {'as':<7} {'expected':<13} {'observed':<13} pass  host")
    for probe, user, expected, observed, passed, host_note in ESCAPE_TABLE:
        write(f"{probe:<38} {user:<7} {expected:<13} {observed:<13} "
              f"{'yes' if passed else 'NO ':<5} {host_note}")
    write(f"{sum(r[4] for r in ESCAPE_TABLE)} of {len(ESCAPE_TABLE)} attempts contained")
