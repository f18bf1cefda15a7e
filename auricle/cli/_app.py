"""Shared pieces of the CLI: the typer app, consoles, error handling.

Heavy imports (TensorFlow, Keras) happen inside the commands, so ``auricle --help`` is instant.
Every :class:`~auricle.errors.AuricleError` is printed as one message with its fix.
"""
from __future__ import annotations

import functools
from enum import Enum

import typer
from rich.console import Console

from auricle.backend import quiet_keras, quiet_tf  # noqa: F401  (quiet_keras: used by the commands)
from auricle.errors import AuricleError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="auricle: build, train, evaluate and use deep neural networks for audio classification.")
console = Console()
err_console = Console(stderr=True)


def friendly(fn):
    """Turn AuricleError into one red line + exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        quiet_tf()
        try:
            return fn(*args, **kwargs)
        except AuricleError as exc:
            err_console.print(f"[bold red]error:[/bold red] {exc}")
            raise typer.Exit(2)
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/yellow]")
            raise typer.Exit(130)

    return wrapper


class Fmt(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _parse_value(text: str):
    import yaml
    try:
        return yaml.safe_load(text)
    except Exception:
        return text


