#!/usr/bin/python3
"""cellbox-embed.js: its size, and the time from a page load to the first result.

Measures the bundle as built (bytes, and gzip -9 bytes: what a browser downloads from the
gateway, which serves the build's precompressed copy to clients that accept gzip; Thebe 0.9.3
is about 15 MB), and, in Debian's chromium (tests/embed/run.mjs, scenario firstresult), the
milliseconds from the navigation to the landing page to the first cell's output shown, for
RUNS page loads (each one starts a kernel of its own; median and max). Not a test.

    /usr/bin/python3 tests/bench/embed_bench.py --build-dir build [--runs 5]
"""

import argparse
import gzip
import json
import os
import pathlib
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
EMBED_TESTS = HERE.parent / "embed"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    build = pathlib.Path(args.build_dir).resolve()
    os.environ["CELLBOX_BUILD_DIR"] = str(build)
    os.environ.setdefault("JUPYTER_PATH", str(build / "share" / "jupyter"))
    sys.path.insert(0, str(EMBED_TESTS))
    import test_embed  # the suite's gateway, npm ci and node driver

    bundle = build / "share" / "cellbox" / "static" / "embed" / "cellbox-embed.js"
    data = bundle.read_bytes()
    print(f"cellbox-embed.js: {len(data)} bytes, {len(gzip.compress(data, 9))} bytes gzipped (-9)")

    test_embed.npm_ci()
    gateway = test_embed.Gateway()
    try:
        times = []
        for _ in range(args.runs):
            run = subprocess.run(["node", str(EMBED_TESTS / "run.mjs"), "firstresult",
                                  f"{gateway.url}/?token={test_embed.ADMIN_TOKEN}"],
                                 capture_output=True, text=True, timeout=120)
            report = json.loads(run.stdout.strip().splitlines()[-1])
            if "error" in report:
                raise SystemExit(f"run failed: {report['error']}")
            times.append(report["firstResultMs"])
        print(f"page load to first result ({args.runs} loads, a new kernel each): "
              f"median {statistics.median(times):.0f} ms, max {max(times):.0f} ms "
              f"({', '.join(str(t) for t in times)})")
    finally:
        gateway.stop()


if __name__ == "__main__":
    main()
