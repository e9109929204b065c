"""cellbox's MCP server driven by the official MCP TypeScript SDK (@modelcontextprotocol/sdk,
pinned in package.json): client.mjs connects with StreamableHTTPClientTransport to {url}mcp
and with StdioClientTransport to `cellbox mcp`, runs every tool and prints a JSON report; each
test here asserts on one step of it."""

import base64
import importlib.util
import pathlib
import subprocess

import pytest

HERE = pathlib.Path(__file__).resolve().parent
NODE_TIMEOUT = 120

_spec = importlib.util.spec_from_file_location("gateway_conftest", HERE.parent / "gateway" / "conftest.py")
gateway_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gateway_conftest)
Gateway, ADMIN_TOKEN, CELLBOX = gateway_conftest.Gateway, gateway_conftest.TOKEN, gateway_conftest.CELLBOX


def user_token(user):
    return subprocess.run([str(CELLBOX), "token", "--user", user, "--secret", ADMIN_TOKEN],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def report():
    gateway_conftest.npm_ci(HERE)
    gateway = Gateway()
    try:
        _, parsed, err = gateway_conftest.run_node_report(
            HERE, "client.mjs",
            [gateway.url, user_token("alice"), user_token("bob"), CELLBOX], NODE_TIMEOUT)
        if "steps" not in parsed:
            pytest.fail(f"client.mjs printed no report: {parsed}\n{err[-4000:]}\n"
                        f"--- cellbox serve log ---\n{gateway.logs()[-4000:]}")
        parsed["log"] = gateway.logs()
        yield parsed
    finally:
        gateway.stop()


def step(report, name):
    s = report["steps"][name]
    assert s["ok"], f"{name} failed in client.mjs:\n{s.get('error')}"
    return s


def test_unauthenticated_client_is_refused(report):
    s = step(report, "unauthenticated")
    assert s["refused"] and "401" in s["error"] or "authentication required" in s["error"]


def test_initialize_negotiates_the_sdk_revision(report):
    s = step(report, "connect")
    assert s["protocolVersion"] == report["sdkProtocol"]
    assert s["capabilities"] == {"tools": {"listChanged": False}}
    assert s["server"]["name"] == "cellbox" and len(s["sessionId"]) == 32


def test_list_tools(report):
    tools = {t["name"]: t for t in step(report, "listTools")["tools"]}
    assert set(tools) == {"execute_code", "list_files", "read_file", "write_file", "restart_kernel"}
    assert tools["execute_code"]["required"] == ["code"] and tools["execute_code"]["hasOutputSchema"]
    assert tools["write_file"]["required"] == ["path", "content"]
    assert all(len(t["description"]) > 40 for t in tools.values())


def test_state_kept_between_calls(report):
    s = step(report, "state")
    assert "set" in s["first"] and "42" in s["second"] and not s["isError"]
    # structuredContent is the execute API's answer (the SDK validated it against outputSchema)
    assert s["structured"]["status"] == "ok" and s["structured"]["result"] == {"text/plain": "42"}


def test_figure_comes_back_as_png(report):
    s = step(report, "figure")
    assert not s["isError"] and len(s["images"]) == 1
    image = s["images"][0]
    assert image["mimeType"] == "image/png"
    assert base64.b64decode(image["data"]).startswith(b"\x89PNG\r\n\x1a\n")


def test_error_cell_is_error_with_traceback(report):
    s = step(report, "error")
    assert s["isError"] and s["status"] == "error"
    assert "ZeroDivisionError" in s["text"] and "return 1 / 0" in s["text"]
    assert "\x1b[" not in s["text"]  # colours stripped for the model


def test_timeout_keeps_state(report):
    s = step(report, "timeout")
    assert s["isError"] and s["status"] == "timeout" and "timeout" in s["text"]
    assert s["seconds"] < 30
    assert "28" in s["after"]  # x (21) and y (7, set before the sleep) survive


def test_progress_notifications_while_a_cell_runs(report):
    s = step(report, "progress")
    assert len(s["notes"]) >= 2, s
    values = [n["progress"] for n in s["notes"]]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert "0\n1\n2" in s["text"]


def test_bad_arguments_are_a_tool_error(report):
    s = step(report, "badArguments")
    assert s["isError"] and "cod" in s["text"]


def test_file_tools(report):
    s = step(report, "files")
    assert s["written"]["isError"] is False and "mcpdir/hello.txt" in s["written"]["text"]
    assert s["read"] == {"isError": False, "text": "héllo from mcp\n"}
    assert "hello.txt" in s["listed"]["text"] and "16 bytes" in s["listed"]["text"]
    assert "héllo from mcp" in s["inKernel"]  # the kernel sees what the tool wrote
    for name in ("dotdot", "escape", "absolute", "missing"):
        assert s[name]["isError"], (name, s[name])
    assert "root:" not in s["absolute"]["text"] and "root:" not in s["escape"]["text"]


def test_two_users_are_isolated(report):
    s = step(report, "isolation")
    assert "False" in s["seen"]  # bob's kernel has no x
    assert s["file"]["isError"]  # nor alice's files
    assert s["foreignSession"] == 404


def test_cancelled_call_interrupts_its_cell(report):
    s = step(report, "cancel")
    assert s["aborted"] and "21" in s["next"]  # interrupted, state kept
    assert s["seconds"] < 20
    assert "MCP tool call cancelled by its client" in report["log"]


def test_restart_kernel_clears_state(report):
    s = step(report, "restart")
    assert not s["restarted"]["isError"]
    assert s["after"]["isError"] and "NameError" in s["after"]["text"]


def test_session_delete_shuts_the_kernel_down(report):
    s = step(report, "terminate")
    assert s["before"] == 1 and s["after"] == 0
    assert "MCP session ended" in report["log"]


def test_stdio_bridge(report):
    s = step(report, "stdio")
    assert "execute_code" in s["tools"] and "42" in s["text"] and not s["isError"]
    assert s["during"] == 1 and s["after"] == 0, s
    assert s["notes"] >= 1 and "a\nb" in s["streamed"]  # SSE through the bridge
