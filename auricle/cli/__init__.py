"""The ``auricle`` command line: a thin typer view of the library.

One module per concern registers its commands on the shared :data:`app`; heavy imports
(TensorFlow, Keras, onnxruntime) happen inside the commands, so ``auricle --help`` is instant.
Every :class:`~auricle.errors.AuricleError` is printed as one message with its fix.
"""
from auricle.cli._app import app, console, err_console, friendly  # noqa: F401
from auricle.cli import pipeline  # noqa: F401,E402  (registers commands)

for _mod in ("augment", "zoo", "streaming", "export", "synth", "serve", "separation", "stems_demo", "music", "cache"):
    # optional command groups: each lives in auricle/cli/<name>.py
    try:
        __import__(f"auricle.cli.{_mod}")
    except ModuleNotFoundError as _exc:  # pragma: no cover - module not written yet
        if _exc.name != f"auricle.cli.{_mod}":
            raise


def main():
    app(prog_name="auricle")


if __name__ == "__main__":
    main()
