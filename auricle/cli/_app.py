"""Shared pieces of the CLI: the typer app, consoles, error handling.

Heavy imports (TensorFlow, Keras) happen inside the commands, so ``auricle --help`` is instant.
Every :class:`~auricle.errors.AuricleError` is printed as one message with its fix.
"""
from __future__ import annotations

import functools
import os
import sys
from enum import Enum

import typer
from rich.console import Console

from auricle.errors import AuricleError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="auricle: build, train, evaluate and use deep neural networks for audio classification.")
console = Console()
err_console = Console(stderr=True)


def _quiet_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import logging
    import warnings
    warnings.filterwarnings("ignore", category=UserWarning, module="keras")
    # tf.function "retracing" notices when several models predict in one process (ensembles)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def quiet_keras() -> None:
    """Import Keras/TensorFlow with the C++ start-up chatter (absl/oneDNN banners, which no
    environment variable silences in TF 2.21) sent to a scratch file; shown if the import fails."""
    _quiet_tf()
    if "keras" in sys.modules:
        return
    import tempfile

    saved = os.dup(2)
    with tempfile.TemporaryFile() as scratch:
        os.dup2(scratch.fileno(), 2)
        try:
            import keras  # noqa: F401
        except Exception:
            os.dup2(saved, 2)
            scratch.seek(0)
            sys.stderr.write(scratch.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def friendly(fn):
    """Turn AuricleError into one red line + exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _quiet_tf()
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


