"""cellbox serve settings: TOML config file, CELLBOX_* environment variables and flags, with
flag > environment > file > default; bad settings stop the server with exit code 2."""

import json
import os
import re
import subprocess
import tempfile

import pytest

from conftest import BUILD_DIR, CELLBOX, TOKEN, Gateway, free_port
from test_kernel_death import run_cells

SHIPPED_CONFIG = BUILD_DIR / "share" / "cellbox" / "cellbox.toml"
SLEEPER = "import time\ntime.sleep(10)"


class ConfiguredGateway(Gateway):
    """A gateway started with exactly these arguments and environment (no --port 0), so that
    the port can come from the file or the environment."""

    def __init__(self, args, env=None):
        self.runtime = tempfile.mkdtemp(prefix="cellbox-gw-")
        self.ssl_context = None
        self.log = open(os.path.join(self.runtime, "serve.log"), "w+")
        if "--work-dir" not in args:  # never the machine's /var/lib/cellbox
            args = [*args, "--work-dir", os.path.join(self.runtime, "work")]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CELLBOX_")}
        environment.update(env or {})
        self.process = subprocess.Popen(
            [str(CELLBOX), "serve", "--token", TOKEN, "--runtime-dir",
             os.path.join(self.runtime, "run"), *args],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=environment)
        line = self.process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, f"no URL printed: {line!r}; log: {self.logs()}"
        self.port = int(match.group(1))
        self.url = f"http://127.0.0.1:{self.port}"


def write_config(text):
    handle, path = tempfile.mkstemp(suffix=".toml", prefix="cellbox-config-")
    with os.fdopen(handle, "w") as f:
        f.write(text)
    return path


def timeout_message(gateway):
    """The CellTimeoutError text of a cell that sleeps past the server's default limit."""
    kernel_id = gateway.request("POST", "/api/kernels", {})[1]["id"]
    reply, _ = run_cells(gateway, kernel_id, [SLEEPER])[0]
    gateway.request("DELETE", f"/api/kernels/{kernel_id}")
    assert reply["content"]["ename"] == "CellTimeoutError", reply["content"]
    return reply["content"]["evalue"]


def run_to_exit(args, env=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CELLBOX_")}
    environment.update(env or {})
    runtime = tempfile.mkdtemp(prefix="cellbox-gw-")
    return subprocess.run([str(CELLBOX), "serve", "--port", "0", "--runtime-dir",
                           os.path.join(runtime, "run"), *args],
                          capture_output=True, text=True, env=environment, timeout=30)


def test_file_then_environment_then_flag():
    file_port, env_port, flag_port = free_port(), free_port(), free_port()
    config = write_config(f"port = {file_port}\ncell_timeout = 1\n")
    env = {"CELLBOX_PORT": str(env_port), "CELLBOX_CELL_TIMEOUT": "2"}

    from_file = ConfiguredGateway(["--config", config])
    try:
        assert from_file.port == file_port
        assert "time limit of 1 s" in timeout_message(from_file)
    finally:
        from_file.stop()

    from_env = ConfiguredGateway(["--config", config], env)
    try:
        assert from_env.port == env_port
        assert "time limit of 2 s" in timeout_message(from_env)
    finally:
        from_env.stop()

    from_flag = ConfiguredGateway(
        ["--config", config, "--port", str(flag_port), "--cell-timeout", "3"], env)
    try:
        assert from_flag.port == flag_port
        assert "time limit of 3 s" in timeout_message(from_flag)
    finally:
        from_flag.stop()


def test_config_file_named_by_the_environment_and_booleans():
    port = free_port()
    config = write_config(f'port = {port}\nno_token = true\n')
    g = ConfiguredGateway([], {"CELLBOX_CONFIG": config})
    try:
        assert g.port == port
        assert g.request("GET", "/api/kernels", token=None)[0] == 200, "no_token from the file"
    finally:
        g.stop()
    g = ConfiguredGateway(["--config", config], {"CELLBOX_NO_TOKEN": "false"})
    try:
        assert g.request("GET", "/api/kernels", token=None)[0] == 401, "the environment wins"
    finally:
        g.stop()


@pytest.mark.parametrize("text, env, expected", [
    ("prot = 8888\n", {}, "unknown key 'prot'"),
    ('port = "8888"\n', {}, "key 'port' must be an integer"),
    ("port = 70000\n", {}, "key 'port' must be an integer"),
    ("cell_timeout = true\n", {}, "key 'cell_timeout' must be a number"),
    ('kernelspec_path = "/x"\n', {}, "key 'kernelspec_path' must be an array of strings"),
    ("no_token = 1\n", {}, "key 'no_token' must be a boolean"),
    ("port = [\n", {}, "cellbox-config-"),  # a syntax error, with its file and line
    ('log_format = "xml"\n', {}, "log_format"),
    ("cull_interval = 0\n", {}, "cull_interval"),
    ("", {"CELLBOX_CELL_TIMEOUT": "soon"}, "CELLBOX_CELL_TIMEOUT"),
    ("", {"CELLBOX_PORT": "99999"}, "CELLBOX_PORT"),
    ("", {"CELLBOX_CULL_BUSY": "maybe"}, "CELLBOX_CULL_BUSY"),
    ('work_quota = "1M"\n', {}, "work_quota: must be 0 (no quota) or at least 16 MiB"),
    ('work_quota = "lots"\n', {}, "work_quota"),
    ("work_inodes = 10\n", {}, "work_inodes"),
    ("", {"CELLBOX_WORK_INODES": "-1"}, "CELLBOX_WORK_INODES"),
    ("pool_size = 8\npool_max = 4\n", {}, "pool_max: must be from pool_size (8) to 4096"),
    ("pool_max = 100000\n", {}, "pool_max: must be from pool_size (4) to 4096"),
    ("pool_window = 0\n", {}, "pool_window: must be more than 0"),
    ('pool_window = "soon"\n', {}, "key 'pool_window' must be a number"),
    ("", {"CELLBOX_POOL_MAX": "-1"}, "CELLBOX_POOL_MAX"),
    ("launch_pool_size = 3\nlaunch_pool_max = 2\n", {},
     "launch_pool_max: must be 0 or from launch_pool_size (3) to 4096"),
])
def test_bad_settings_exit_2_with_the_key_named(text, env, expected):
    result = run_to_exit(["--config", write_config(text)], env)
    assert result.returncode == 2, result
    assert expected in result.stderr, result.stderr
    assert result.stdout == "", "no URL: the server did not start"


def test_missing_config_file_exits_2():
    result = run_to_exit(["--config", "/nonexistent/cellbox.toml"])
    assert result.returncode == 2 and "/nonexistent/cellbox.toml" in result.stderr


def test_the_shipped_config_lists_every_key_and_loads():
    text = SHIPPED_CONFIG.read_text()
    # The unknown-key error lists every key the server knows.
    known = run_to_exit(["--config", write_config("no_such_key = 1\n")]).stderr
    keys = re.search(r"known keys: ([a-z_, ]+)", known).group(1).split(", ")
    assert len(keys) >= 20
    for key in keys:
        assert re.search(rf"^#? ?{key} = ", text, re.MULTILINE), f"{key} missing from cellbox.toml"
    g = Gateway("--config", str(SHIPPED_CONFIG))  # its --port 0 overrides port = 8888
    try:
        status, body, _ = g.request("GET", "/api/status")
        assert status == 200 and body["kernels"] == 0
    finally:
        g.stop()


def test_log_format_json_and_level():
    g = Gateway("--log-format", "json")
    try:
        g.request("GET", "/api/kernels")
    finally:
        g.stop()
    lines = [line for line in g.logs().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    requests = [r for r in records if r["msg"] == "request"]
    assert requests and requests[0]["path"] == "/api/kernels" and requests[0]["status"] == 200
    assert all({"ts", "level", "msg"} <= r.keys() for r in records)

    g = Gateway("--log-level", "warn")
    try:
        g.request("GET", "/api/kernels")
    finally:
        g.stop()
    assert "msg=request" not in g.logs(), "info lines are below the warn threshold"
