"""The `hf-tinybert` command: one subcommand per stage, each a thin layer over the Python API.

Each subcommand lives in its own module under `hf_tinybert.cli` with a `main(argv) -> int` function and
a module docstring whose first line is its one-line help. Modules are imported only when their
subcommand runs, so optional extras stay optional. This module imports nothing but the standard library: the
console script (`hf_tinybert_cli`, outside the package) runs it on its own for `hf-tinybert --help` and
`--version`, which then take a fraction of a second instead of the seconds that importing the package (torch,
transformers) takes.

A user's mistake (a bad value, a missing file, a folder that would be overwritten, no network) ends the command with
one line, `hf-tinybert <command>: error: <message>`, on stderr and exit status 2; `--traceback` anywhere on the
command line (or `HF_TINYBERT_DEBUG=1`) shows the traceback instead. (`--debug` is a `TrainingArguments` flag.)
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable

# subcommand -> module (in the order of TinyBERT's recipe)
COMMANDS: dict[str, str] = {
    "demo": "hf_tinybert.cli.demo",
    "finetune": "hf_tinybert.cli.finetune",
    "general-distill": "hf_tinybert.cli.general_distill",
    "augment": "hf_tinybert.cli.augment",
    "task-distill": "hf_tinybert.cli.task_distill",
    "evaluate": "hf_tinybert.cli.evaluate",
    "convert": "hf_tinybert.cli.convert",
    "export": "hf_tinybert.cli.export",
    "benchmark": "hf_tinybert.cli.benchmark",
    "push": "hf_tinybert.cli.push",
}


def _summary(module_name: str) -> str:
    """The first line of a command module's docstring, read from its file (nothing is imported)."""
    import ast

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), module_name.rsplit(".", 1)[1] + ".py")
    with open(path, encoding="utf-8") as f:
        doc = ast.get_docstring(ast.parse(f.read())) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: hf-tinybert <command> [options]",
        "",
        "Distil BERT-family teachers into TinyBERT students. Commands:",
        "",
    ]
    lines += [f"  {name.ljust(width)}  {_summary(module)}" for name, module in COMMANDS.items()]
    lines += ["", "Run `hf-tinybert <command> --help` for the options of one command."]
    return "\n".join(lines)


# What a user can cause and fix: bad values (ValueError, including the Hub client's validation errors), a missing extra
# (ImportError naming the package to install), files and folders (OSError: missing, existing, unreadable), and the
# network (ConnectionError, the Hub client's offline mode).
USER_ERRORS = (ValueError, OSError, ImportError)
TRACEBACK_FLAG = "--traceback"


def error_line(command: str, err: BaseException) -> str:
    """`hf-tinybert <command>: error: <message on one line>`, with a hint for network errors."""
    message = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, ConnectionError) or "Offline" in type(err).__name__ or "couldn't connect" in message.lower():
        message += (
            " (no network, or HF_HUB_OFFLINE=1: give local files instead, e.g. --data_dir for GLUE tasks and a local "
            "folder for models)"
        )
    return f"hf-tinybert {command}: error: {message} (run with {TRACEBACK_FLAG} for the traceback)"


def command(name: str) -> Callable[[Callable[[list[str]], int | None]], Callable[[list[str] | None], int]]:
    """Make `run(argv)` a command's `main(argv=None) -> exit status`: a user's mistake becomes one line on stderr
    and exit status 2, `--help` exit status 0, a usage error argparse's message and 2; `--traceback` (anywhere on
    the command line) or `HF_TINYBERT_DEBUG=1` lets the exception through instead."""

    def decorate(run):
        @functools.wraps(run)
        def main(argv: list[str] | None = None) -> int:
            argv = list(sys.argv[1:] if argv is None else argv)
            show_traceback = TRACEBACK_FLAG in argv or os.environ.get("HF_TINYBERT_DEBUG", "") not in ("", "0")
            try:
                return int(run([arg for arg in argv if arg != TRACEBACK_FLAG]) or 0)
            except SystemExit as exit_:  # --help (0) or argparse's usage error (2), already printed
                return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
            except USER_ERRORS as err:
                if show_traceback:
                    raise
                print(error_line(name, err), file=sys.stderr)
                return 2

        return main

    return decorate


def version() -> str:
    """The installed distribution's version (without importing the package)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("hf-tinybert")
    except PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        print(f"hf-tinybert {version()}")
        return 0
    command_name, rest = argv[0], argv[1:]
    if command_name not in COMMANDS:
        print(
            f"hf-tinybert: unknown command {command_name!r}; valid commands are: {', '.join(COMMANDS)}", file=sys.stderr
        )
        return 2
    return importlib.import_module(COMMANDS[command_name]).main(rest)


if __name__ == "__main__":
    sys.exit(main())
