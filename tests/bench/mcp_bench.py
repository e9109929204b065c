#!/usr/bin/python3
"""The MCP execute_code round trip through the official SDK against the execute API, one run.

tests/mcp/bench_client.mjs (node, @modelcontextprotocol/sdk pinned in tests/mcp) runs `1+1`
as an MCP tools/call of execute_code (Client over StreamableHTTPClientTransport, JSON
answers) and as POST /api/kernels/{id}/execute with fetch, samples interleaved, on one
gateway. Prints a Markdown table (median and p90, ms) and the ratio. Not a test.

    /usr/bin/python3 tests/bench/mcp_bench.py --build-dir build
"""

import argparse
import json
import pathlib
import subprocess

from bench_util import _gateway_test_helpers, print_table, percentile

support = _gateway_test_helpers()
MCP_DIR = pathlib.Path(__file__).resolve().parent.parent / "mcp"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--round-trips", type=int, default=200)
    args = parser.parse_args()
    support.CELLBOX = pathlib.Path(args.build_dir).resolve() / "bin" / "cellbox"
    if not (MCP_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=MCP_DIR, check=True)
    gw = support.Gateway("--max-kernels-per-user", "0")
    try:
        run = subprocess.run(["node", str(MCP_DIR / "bench_client.mjs"), gw.url, support.TOKEN,
                              str(args.round_trips)],
                             cwd=MCP_DIR, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        samples = json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        gw.stop()
    labels = {
        "execute": f"POST .../execute `1+1`, JSON, fetch ({args.round_trips})",
        "mcp": f"MCP execute_code `1+1`, SDK Client ({args.round_trips})",
    }
    print_table(labels, samples)
    ratio = percentile(samples["mcp"], 0.5) / percentile(samples["execute"], 0.5)
    print(f"\nMCP execute_code / POST execute (medians): {ratio:.2f}x")


if __name__ == "__main__":
    main()
