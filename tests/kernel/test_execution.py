"""State, rich output, streams and errors of cellbox-kernel, driven by jupyter_client."""

import base64
import re
import textwrap

from conftest import of_type, stdout_of


def test_state_persists_across_cells(kernel):
    kernel.execute("import math\ntotal = 40\ndef bump(x):\n    return x + 2")
    reply, outputs = kernel.execute("bump(total), math.pi > 3")
    assert reply["content"]["status"] == "ok"
    (result,) = of_type(outputs, "execute_result")
    assert result["content"]["data"]["text/plain"] == "(42, True)"


def test_execute_result_and_execution_count(kernel):
    reply, outputs = kernel.execute("6 * 7")
    (result,) = of_type(outputs, "execute_result")
    assert result["content"]["data"]["text/plain"] == "42"
    assert result["content"]["execution_count"] == reply["content"]["execution_count"]
    (echo,) = of_type(outputs, "execute_input")
    assert echo["content"]["code"] == "6 * 7"


def test_display_and_repr_methods(kernel):
    code = textwrap.dedent(
        """
        from IPython.display import display, HTML
        class Rich:
            def _repr_html_(self):
                return "<b>rich</b>"
        class Bundle:
            def _repr_mimebundle_(self, include=None, exclude=None):
                return {"text/plain": "bundle", "application/x-cellbox-test": {"n": 1}}
        class Png:
            def _repr_png_(self):
                return b"\\x89PNG\\r\\n\\x1a\\n" + b"0" * 16
        display(HTML("<i>html</i>"))
        display(Rich())
        display(Bundle())
        display(Png())
        """
    )
    reply, outputs = kernel.execute(code)
    assert reply["content"]["status"] == "ok"
    shown = [m["content"]["data"] for m in of_type(outputs, "display_data")]
    assert shown[0]["text/html"] == "<i>html</i>"
    assert shown[1]["text/html"] == "<b>rich</b>"
    assert shown[2]["application/x-cellbox-test"] == {"n": 1}
    assert base64.b64decode(shown[3]["image/png"]).startswith(b"\x89PNG")


def test_update_display_and_clear_output(kernel):
    code = textwrap.dedent(
        """
        from IPython.display import display, clear_output
        handle = display("first", display_id=True)
        handle.update("second")
        clear_output(wait=True)
        """
    )
    reply, outputs = kernel.execute(code)
    assert reply["content"]["status"] == "ok"
    (shown,) = of_type(outputs, "display_data")
    (update,) = of_type(outputs, "update_display_data")
    assert update["content"]["transient"]["display_id"] == shown["content"]["transient"]["display_id"]
    assert update["content"]["data"]["text/plain"] == "'second'"
    (clear,) = of_type(outputs, "clear_output")
    assert clear["content"]["wait"] is True


def test_pandas_dataframe_is_html(kernel):
    reply, outputs = kernel.execute(
        "import pandas as pd\npd.DataFrame({'city': ['Oslo', 'Lima'], 'temp': [3, 19]})")
    assert reply["content"]["status"] == "ok"
    (result,) = of_type(outputs, "execute_result")
    html = result["content"]["data"]["text/html"]
    assert "<table" in html and "Oslo" in html and "Lima" in html


def test_matplotlib_figure_is_png_without_show(kernel):
    reply, outputs = kernel.execute(
        "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('cellbox')")
    assert reply["content"]["status"] == "ok"
    pngs = [m["content"]["data"]["image/png"] for m in of_type(outputs, "display_data")
            if "image/png" in m["content"]["data"]]
    assert len(pngs) == 1
    png = base64.b64decode(pngs[0])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 5000  # a rendered line plot, not an empty image


def test_streams_arrive_while_the_cell_runs(kernel):
    code = "import time\nfor i in range(5):\n    print('tick', i, flush=True)\n    time.sleep(0.2)"
    reply, outputs = kernel.execute(code)
    assert reply["content"]["status"] == "ok"
    streams = of_type(outputs, "stream")
    assert stdout_of(outputs) == "".join(f"tick {i}\n" for i in range(5))
    first_tick = min(m["received"] for m in streams)
    last_tick = max(m["received"] for m in streams)
    # The first line is on the client about 0.8 s before the cell ends.
    assert last_tick - first_tick > 0.5


def test_many_small_writes_are_coalesced(kernel):
    reply, outputs = kernel.execute("for i in range(100000):\n    print(i)")
    assert reply["content"]["status"] == "ok"
    streams = of_type(outputs, "stream")
    assert stdout_of(outputs) == "".join(f"{i}\n" for i in range(100000))
    assert len(streams) < 200, f"{len(streams)} stream messages for 100000 prints"


def test_stdout_and_stderr_keep_their_order(kernel):
    reply, outputs = kernel.execute(
        "import sys\nprint('a')\nprint('b', file=sys.stderr)\nprint('c')")
    names = [(m["content"]["name"], m["content"]["text"]) for m in of_type(outputs, "stream")]
    assert names == [("stdout", "a\n"), ("stderr", "b\n"), ("stdout", "c\n")]


def test_child_process_output_reaches_the_frontend(kernel):
    code = textwrap.dedent(
        """
        import os, subprocess
        os.system("echo from-system")
        subprocess.run(["sh", "-c", "echo from-subprocess; echo to-stderr 1>&2"])
        os.write(1, b"raw fd write\\n")
        """
    )
    reply, outputs = kernel.execute(code)
    assert reply["content"]["status"] == "ok"
    assert "from-system\n" in stdout_of(outputs)
    assert "from-subprocess\n" in stdout_of(outputs)
    assert "raw fd write\n" in stdout_of(outputs)
    assert "to-stderr\n" in stdout_of(outputs, "stderr")


def test_shell_escape_output_and_exit_code(kernel):
    # Without a terminal (a sandbox has none), stdout and stderr stay apart.
    reply, outputs = kernel.execute("!echo from-bang; echo bang-err 1>&2; exit 3")
    assert reply["content"]["status"] == "ok", reply
    assert stdout_of(outputs) == "from-bang\n"
    assert stdout_of(outputs, "stderr") == "bang-err\n"
    reply, outputs = kernel.execute("print(_exit_code)")
    assert stdout_of(outputs) == "3\n"


def test_binary_garbage_on_stdout_is_replaced_not_fatal(kernel):
    reply, outputs = kernel.execute("import os\nos.write(1, b'ok \\xff\\xfe end\\n')")
    assert reply["content"]["status"] == "ok"
    assert "ok \ufffd\ufffd end\n" in stdout_of(outputs)
    reply, _ = kernel.execute("1")
    assert reply["content"]["status"] == "ok"


def test_error_has_class_name_and_points_at_the_cell(kernel):
    code = "def divide(a, b):\n    return a / b\n\nvalue = divide(1, 0)"
    reply, outputs = kernel.execute(code)
    content = reply["content"]
    assert content["status"] == "error"
    assert content["ename"] == "ZeroDivisionError"
    assert content["evalue"] == "division by zero"
    (error,) = of_type(outputs, "error")
    assert error["content"]["ename"] == "ZeroDivisionError"
    traceback = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["content"]["traceback"]))
    assert "return a / b" in traceback
    assert "value = divide(1, 0)" in traceback


def test_syntax_error_is_reported(kernel):
    reply, outputs = kernel.execute("def broken(:\n    pass")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "SyntaxError"
    assert of_type(outputs, "error")[0]["content"]["ename"] == "SyntaxError"


def test_user_expressions(kernel):
    kernel.execute("answer = 42")
    reply, _ = kernel.execute("pass", user_expressions={"doubled": "answer * 2"})
    assert reply["content"]["user_expressions"]["doubled"]["data"]["text/plain"] == "84"


def test_error_is_reported_even_when_ipython_cannot_format_it(fresh_kernel):
    # IPython falls back to printing when its traceback formatter fails (it does for a cell
    # interrupted at line 0); the reply and the error output must still name the exception.
    fresh_kernel.execute("def broken(*args, **kwargs):\n    raise RuntimeError('formatter broke')\n"
                         "get_ipython().InteractiveTB.structured_traceback = broken")
    reply, outputs = fresh_kernel.execute("1/0")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "ZeroDivisionError"
    (error,) = of_type(outputs, "error")
    assert "ZeroDivisionError" in "".join(error["content"]["traceback"])


def test_the_start_up_rehearsal_leaves_no_trace(fresh_kernel):
    # The kernel runs a cell's code paths once while it starts; the user's first cell must
    # still be number 1, with nothing before it in the history or the output cache.
    reply, outputs = fresh_kernel.execute("len(In), len(Out), _ih[-1], __builtins__ is not None")
    assert reply["content"]["execution_count"] == 1
    (result,) = of_type(outputs, "execute_result")
    assert result["content"]["execution_count"] == 1
    text = result["content"]["data"]["text/plain"]
    assert text.startswith("(2, 0, 'len(In)"), text
    assert of_type(outputs, "stream") == []


def test_the_first_cell_finds_the_tokenizer_compiled(fresh_kernel):
    # The display hook tokenizes every cell with a result (a trailing `;` hides it);
    # tokenize compiles its pattern at first use, milliseconds that the start-up pays,
    # not the user's first result. The cell reads the cache before its own result is shown.
    reply, outputs = fresh_kernel.execute("import tokenize; tokenize._compile.cache_info()")
    assert reply["content"]["status"] == "ok", reply["content"]
    (result,) = of_type(outputs, "execute_result")
    text = result["content"]["data"]["text/plain"]
    assert "currsize=0" not in text and "currsize=" in text, text


def test_sys_stdout_takes_what_a_file_takes(kernel):
    # sys.stdout writes go straight to the output coalescer; what that path cannot carry
    # goes the original way, and the stream still behaves like a text file.
    code = textwrap.dedent(
        """
        import sys
        print(sys.stdout.isatty(), sys.stdout.write("w\\n"))
        try:
            sys.stdout.write(b"bytes")
        except TypeError:
            print("bytes refused")
        sys.stdout.writelines(["x", "y\\n"])
        sys.stdout.flush()
        sys.stdout.write("lone \\udcff\\n")
        print("after")
        """
    )
    reply, outputs = kernel.execute(code)
    assert reply["content"]["status"] == "ok", reply["content"]
    text = stdout_of(outputs)
    assert text.startswith("w\nFalse 2\nbytes refused\nxy\n"), text
    assert text.endswith("xy\nlone ?\nafter\n"), text


def test_output_of_a_thread_after_its_cell_is_not_lost(kernel):
    reply, _ = kernel.execute(
        "import threading, time\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('late line'))).start()")
    assert reply["content"]["status"] == "ok"
    reply, outputs = kernel.execute("import time\ntime.sleep(0.6)")
    assert reply["content"]["status"] == "ok"
    late = [m for m in of_type(outputs, "stream") if "late line" in m["content"]["text"]]
    # Written while the next cell runs, so it comes with that cell's outputs.
    assert late


def test_text_is_utf8_whatever_the_locale(kernel):
    """Files, file names and streams are UTF-8 (an embedded interpreter used to default to
    ASCII: open() of a UTF-8 file without encoding= failed)."""
    code = textwrap.dedent(
        """
        import os, sys, tempfile
        folder = tempfile.mkdtemp()
        path = os.path.join(folder, "données-ü.txt")
        with open(path, "w") as f:
            f.write("héllo ✓")
        with open(path) as f:
            print(f.read(), os.listdir(folder), sys.stdout.encoding, sys.stderr.encoding)
        """
    )
    reply, outputs = kernel.execute(code)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert stdout_of(outputs) == "héllo ✓ ['données-ü.txt'] utf-8 utf-8\n"
