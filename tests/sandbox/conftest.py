"""Shared pieces of the sandbox suites: the launcher's path and the escape table."""

import os
import pathlib

BUILD_DIR = pathlib.Path(os.environ.get("CELLBOX_BUILD_DIR", "build")).resolve()
SANDBOX = BUILD_DIR / "bin" / "cellbox-sandbox"
KERNEL = BUILD_DIR / "bin" / "cellbox-kernel"

# Rows of the escape table: (probe, user, expected verdict, observed verdict, passed)
ESCAPE_TABLE = []


def pytest_terminal_summary(terminalreporter):
    if not ESCAPE_TABLE:
        return
    write = terminalreporter.write_line
    write("")
    write("Escape suite (default policy)")
    write(f"{'attempt':<38} {'as':<7} {'expected':<13} {'observed':<13} pass")
    for probe, user, expected, observed, passed in ESCAPE_TABLE:
        write(f"{probe:<38} {user:<7} {expected:<13} {observed:<13} {'yes' if passed else 'NO'}")
    write(f"{sum(r[4] for r in ESCAPE_TABLE)} of {len(ESCAPE_TABLE)} attempts contained")
