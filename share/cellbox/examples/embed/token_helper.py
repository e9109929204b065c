#!/usr/bin/env python3
"""The SaaS backend of the embed example, in a few lines: serves this directory and mints a
short-lived user token per request, as your backend would after its own login.

    python3 token_helper.py --gateway http://127.0.0.1:8888/ --secret "$CELLBOX_JWT_SECRET"

then open http://127.0.0.1:8000/ (another origin than the gateway: start the gateway with
`--allow-origin http://127.0.0.1:8000`). GET /token returns a token for --user that
expires in --expires-in seconds, minted with `cellbox token` (HS256 with the gateway's
--jwt-secret, by default its admin token); GET /config tells the page where the gateway is.
For trying things locally only: anyone who reaches this helper gets a token.
"""

import argparse
import functools
import http.server
import json
import os
import shutil
import subprocess


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway", required=True, help="the gateway's URL, ending in its base_url")
    parser.add_argument("--secret", default=os.environ.get("CELLBOX_JWT_SECRET") or os.environ.get("CELLBOX_TOKEN"),
                        help="the gateway's --jwt-secret (default: env CELLBOX_JWT_SECRET, else CELLBOX_TOKEN)")
    parser.add_argument("--user", default="acme-visitor", help="the token's user")
    parser.add_argument("--expires-in", type=int, default=300, help="seconds a token lives")
    parser.add_argument("--cellbox", default=shutil.which("cellbox") or "cellbox", help="the cellbox program")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--bind", default="127.0.0.1")
    args = parser.parse_args()
    if not args.secret:
        parser.error("--secret (or CELLBOX_JWT_SECRET) is needed to mint tokens")
    gateway = args.gateway if args.gateway.endswith("/") else args.gateway + "/"

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/token":
                minted = subprocess.run(
                    [args.cellbox, "token", "--user", args.user, "--expires-in", str(args.expires_in)],
                    env=dict(os.environ, CELLBOX_JWT_SECRET=args.secret),
                    capture_output=True, text=True, check=True)
                return self.answer("text/plain", minted.stdout.strip())
            if self.path == "/config":
                return self.answer("application/json", json.dumps({"gateway": gateway}))
            return super().do_GET()

        def answer(self, content_type, text):
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    directory = os.path.dirname(os.path.abspath(__file__))
    server = http.server.ThreadingHTTPServer((args.bind, args.port), functools.partial(Handler, directory=directory))
    print(f"http://{args.bind}:{server.server_address[1]}/ (tokens for {args.user} on {gateway})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
