"""``auricle serve RUN [RUN ...]``: the HTTP API and web page over the runs' ONNX exports."""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

from auricle.cli._app import app, err_console, friendly
from auricle.errors import ConfigError


@app.command("serve")
@friendly
def serve(
    runs: List[str] = typer.Argument(..., help="Classifier runs or export folders, and separation runs "
                                     "(served at :separate); NAME=PATH names one."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (127.0.0.1: this machine only)."),
    port: int = typer.Option(8000, help="TCP port."),
    token: Optional[str] = typer.Option(None, envvar="AURICLE_TOKEN", show_envvar=True,
                                        help="Bearer token required on every /v1 endpoint (not /health, not the page)."),
    max_upload_mb: float = typer.Option(20.0, help="Largest upload (MB)."),
    max_seconds: float = typer.Option(120.0, help="Longest audio per :predict request (s)."),
    max_channels: int = typer.Option(2, help="Most channels per upload."),
    timeout: float = typer.Option(30.0, help="Request timeout (s)."),
    threads: int = typer.Option(1, help="onnxruntime intra-op threads per model."),
    max_batch: int = typer.Option(64, help="Most windows per batched model call."),
    export: bool = typer.Option(True, help="Export a run to ONNX on first serve when it has no export (cached in the run)."),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
):
    """Serve models over HTTP (predict, WebSocket streaming) with a web page at /; runs the ONNX export, not TensorFlow."""
    import uvicorn

    from auricle.serve.app import create_app
    from auricle.serve.limits import Limits
    from auricle.serve.models import load_all

    if not 0 < port < 65536:
        raise ConfigError(f"port {port} is not a TCP port", fix="use 1-65535")
    limits = Limits(max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_seconds=max_seconds,
                    max_channels=max_channels, request_timeout=timeout)
    models, separators = load_all([os.fspath(Path(r)) if "=" not in r else r for r in runs], export=export,
                                  threads=threads, log=err_console.print, max_batch=max_batch)
    application = create_app(models, token=token, limits=limits, separators=separators)
    for m in models:
        err_console.print(f"model [bold]{m.name}[/bold]: {len(m.labels)} labels, {m.feature_config.sr} Hz, "
                          f"{m.export} (onnxruntime)")
    for s in separators.values():
        err_console.print(f"separator [bold]{s.name}[/bold]: stems {', '.join(s.separator.stems)}, {s.sr} Hz "
                          f"(POST /v1/models/{s.name}:separate)")
    if host not in ("127.0.0.1", "localhost", "::1") and token is None:
        err_console.print("[yellow]warning: listening beyond this machine without --token[/yellow]")
    err_console.print(f"serving on http://{host}:{port}/  (API: /v1/models, docs: /docs; Ctrl-C to stop)")
    uvicorn.run(application, host=host, port=port, log_level=log_level, access_log=False)
