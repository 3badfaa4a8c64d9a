"""What goes into the catalogue, for Babel (``pybabel extract -F babel.cfg``, ``make messages``).

Two kinds of text are collected from a Python file:

- messages marked with ``_l(...)`` / ``_nl(...)`` (Babel's own Python extractor);
- in the command line (``cli/``), the help a user reads: ``help="..."`` of commands and
  options, the help of ``date_option(...)``, and the docstrings of the functions that are
  commands (decorated with ``.command(...)`` or ``.callback(...)``), as Typer shows them.

>>> import io
>>> source = b'''
... @app.command()
... def hello(name: str = typer.Option("x", help="Who to greet.")) -> None:
...     "Say hello."
...     raise LivebaseError(_l("no {name} here", name=name))
... '''
>>> fileobj = io.BytesIO(source)
>>> fileobj.name = "src/livebase/cli/hello.py"
>>> from babel.messages.extract import extract
>>> sorted(m[1] for m in extract(extract_livebase, fileobj, keywords={"_l": None}))
['Say hello.', 'Who to greet.', 'no {name} here']
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from typing import IO, Any

__all__ = ["extract_livebase", "help_texts"]

_COMMAND_DECORATORS = ("command", "callback")


def help_texts(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, text) of every help text a command-line module shows: ``help=`` of commands
    and options, a ``date_option``'s help, a module constant named ``*_help``, and the
    docstrings of commands (decorated with, or passed to, ``.command(...)``/``.callback(...)``).
    """
    registered = {
        arg.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Call)
        if _name_of(node.func.func) in _COMMAND_DECORATORS
        for arg in node.args
        if isinstance(arg, ast.Name)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "help" and _is_text(keyword.value):
                    yield keyword.value.lineno, keyword.value.value  # type: ignore[attr-defined]
            if (
                _name_of(node.func) == "date_option"
                and len(node.args) > 1
                and _is_text(node.args[1])
            ):
                yield node.args[1].lineno, node.args[1].value  # type: ignore[attr-defined]
        elif isinstance(node, ast.Assign) and _is_text(node.value):
            if any(isinstance(t, ast.Name) and t.id.endswith("_help") for t in node.targets):
                yield node.value.lineno, node.value.value  # type: ignore[attr-defined]
        elif isinstance(node, ast.FunctionDef) and (
            node.name in registered
            or any(
                isinstance(d, ast.Call) and _name_of(d.func) in _COMMAND_DECORATORS
                for d in node.decorator_list
            )
        ):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                yield node.body[0].lineno, doc


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(node.value)


def _name_of(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def extract_livebase(
    fileobj: IO[bytes],
    keywords: Any,
    comment_tags: Collection[str],
    options: Any,
) -> Iterator[tuple[int, str, Any, list[str]]]:
    """A Babel extraction method: the marked messages, and in ``cli/`` the help texts."""
    from babel.messages.extract import extract_python

    source = fileobj.read()
    fileobj.seek(0)
    found: Iterator[Any] = extract_python(fileobj, keywords, comment_tags, options)
    for lineno, funcname, message, comments in found:
        yield lineno, funcname, message, comments
    if "/cli/" in str(getattr(fileobj, "name", "")).replace("\\", "/"):
        for lineno, text in help_texts(ast.parse(source)):
            yield lineno, "", text, []
