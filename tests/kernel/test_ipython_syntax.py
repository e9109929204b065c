"""IPython's syntax and result formatting through the kernel's shortcuts around IPython
(cells without escapes skip the token search, formatters skip argument binding, cells without
'await' skip the asynchronous check): what those shortcuts must leave to IPython still works."""

import textwrap

from conftest import of_type, stdout_of


def result_text(outputs):
    (result,) = of_type(outputs, "execute_result")
    return result["content"]["data"]["text/plain"]


def test_magics_shell_escapes_and_their_assignments(kernel):
    reply, outputs = kernel.execute("%time n = 6 * 7")
    assert reply["content"]["status"] == "ok"
    assert "Wall time" in stdout_of(outputs)
    reply, outputs = kernel.execute("!echo from-the-shell")
    assert "from-the-shell" in stdout_of(outputs)
    kernel.execute("here = %pwd\nlisted = !echo a b")
    _, outputs = kernel.execute("type(here).__name__, list(listed), n")
    assert result_text(outputs) == "('str', ['a b'], 42)"


def test_help_and_autocall_escapes(kernel):
    reply, _ = kernel.execute("len?")
    (page,) = reply["content"]["payload"]
    assert page["source"] == "page" and "Return the number of items" in str(page["data"])
    _, outputs = kernel.execute("/abs -3")
    assert result_text(outputs) == "3"


def test_escape_characters_inside_python_are_python(kernel):
    _, outputs = kernel.execute("print('100%', 'why?', 'no!')")
    assert stdout_of(outputs) == "100% why? no!\n"
    # A '/' opening a physical line inside brackets is a division, not autocall.
    _, outputs = kernel.execute("(84\n / 2)")
    assert result_text(outputs) == "42.0"
    _, outputs = kernel.execute("3 != 4, 7 % 4")
    assert result_text(outputs) == "(True, 3)"


def test_top_level_await_and_async_definitions(kernel):
    code = textwrap.dedent(
        """
        import asyncio
        async def answer():
            await asyncio.sleep(0)
            return 42
        await answer()
        """
    )
    reply, outputs = kernel.execute(code)
    assert reply["content"]["status"] == "ok"
    assert result_text(outputs) == "42"
    _, outputs = kernel.execute("[x async for x in (lambda: (yield_ for yield_ in ()))()] "
                                "if False else 'sync'")
    assert result_text(outputs) == "'sync'"


def test_a_failing_formatter_is_reported_and_the_others_still_format(kernel):
    code = textwrap.dedent(
        """
        class Half:
            def _repr_html_(self):
                raise ValueError("html broke")
            def _repr_markdown_(self):
                raise NotImplementedError
            def __repr__(self):
                return "Half()"
        Half()
        """
    )
    _, outputs = kernel.execute(code)
    (result,) = of_type(outputs, "execute_result")
    assert result["content"]["data"] == {"text/plain": "Half()"}
    (error,) = of_type(outputs, "error")
    assert error["content"]["ename"] == "ValueError"
    assert error["content"]["evalue"] == "html broke"


def test_formatters_called_directly_keep_ipython_argument_checks(kernel):
    code = textwrap.dedent(
        """
        formatters = get_ipython().display_formatter.formatters
        bundle = get_ipython().display_formatter.mimebundle_formatter
        try:
            formatters["text/html"](obj=1, extra=2)
        except TypeError as e:
            checked = type(e).__name__
        formatters["text/plain"](7), bundle(7, include=None, exclude=None), checked
        """
    )
    _, outputs = kernel.execute(code)
    assert result_text(outputs) == "('7', ({}, {}), 'TypeError')"


def test_printers_registered_by_type_and_by_name(fresh_kernel):
    code = textwrap.dedent(
        """
        html = get_ipython().display_formatter.formatters["text/html"]
        html.for_type(int, lambda n: f"<b>{n}</b>")
        html.for_type_by_name("collections", "OrderedDict", lambda d: "<i>ordered</i>")
        """
    )
    fresh_kernel.execute(code)
    _, outputs = fresh_kernel.execute("5")
    (result,) = of_type(outputs, "execute_result")
    assert result["content"]["data"] == {"text/plain": "5", "text/html": "<b>5</b>"}
    _, outputs = fresh_kernel.execute("import collections\ncollections.OrderedDict()")
    (result,) = of_type(outputs, "execute_result")
    assert result["content"]["data"]["text/html"] == "<i>ordered</i>"
    _, outputs = fresh_kernel.execute("html.enabled = False\n5")
    (result,) = of_type(outputs, "execute_result")
    assert result["content"]["data"] == {"text/plain": "5"}


def test_input_history_variables_and_ranges(fresh_kernel):
    for code in ("first = 1", "second = 2", "third = 3"):
        fresh_kernel.execute(code)
    _, outputs = fresh_kernel.execute("_i, _ii, _iii, _i2, In[1]")
    assert result_text(outputs) == ("('third = 3', 'second = 2', 'first = 1', 'second = 2', "
                                    "'first = 1')")
    _, outputs = fresh_kernel.execute(
        "list(get_ipython().history_manager.get_range(start=3, stop=5))")
    assert result_text(outputs) == "[(0, 3, 'third = 3'), (0, 4, '_i, _ii, _iii, _i2, In[1]')]"


def test_ipython_display_and_mimebundle_printers(fresh_kernel):
    code = textwrap.dedent(
        """
        class Custom:
            def _ipython_display_(self):
                print("displayed by itself")
        class Plain:
            pass
        bundle = get_ipython().display_formatter.mimebundle_formatter
        bundle.for_type(Plain, lambda obj: {"text/x-plain-bundle": "from a printer"})
        Custom()
        """
    )
    _, outputs = fresh_kernel.execute(code)
    assert stdout_of(outputs) == "displayed by itself\n"
    assert of_type(outputs, "execute_result") == []
    _, outputs = fresh_kernel.execute("Plain()")
    (result,) = of_type(outputs, "execute_result")
    assert result["content"]["data"]["text/x-plain-bundle"] == "from a printer"
