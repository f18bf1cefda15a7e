"""``auricle export``: a run's model (offline or streaming step model) to ONNX / TFLite / SavedModel."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from auricle.cli._app import app, console, err_console, friendly


@app.command("export")
@friendly
def export(
    run: Path = typer.Argument(..., help="Run directory."),
    fmt: str = typer.Option("onnx", "--format", "-f", help="onnx, tflite, tflite-int8 or savedmodel."),
    streaming: bool = typer.Option(False, "--streaming", help="Export the step model (explicit state) instead of the offline model."),
    mode: str = typer.Option("auto", help="Streaming conversion: auto, incremental or window."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default RUN/export/<format>[-streaming])."),
    calibration: int = typer.Option(200, help="Training examples that calibrate tflite-int8."),
    parity_clips: Optional[int] = typer.Option(None, help="Check at most this many test clips (default all; 40 for window step models)."),
    as_json: bool = typer.Option(False, "--json", help="Print the export's metadata as JSON."),
):
    """Convert a trained model for devices and check it against Keras on the test split (written to meta.json)."""
    if (run / "separation.json").exists():
        # a separator: its mask network goes to ONNX/TFLite; STFT and masks stay in numpy
        from auricle.separation.export import export_separator

        path = export_separator(run, fmt, out=out, console=None if as_json else err_console)
        if as_json:
            print((path / "meta.json").read_text())
        return
    from auricle.export import export_run

    path = export_run(run, fmt, streaming=streaming, out=out, mode=mode, calibration=calibration,
                      parity_clips=parity_clips, console=err_console)
    meta = json.loads((path / "meta.json").read_text())
    if as_json:
        print(json.dumps(meta, indent=1))
        return
    p = meta["parity"]
    console.print(f"[bold green]exported[/bold green] {path / meta['file']}")
    if meta.get("streaming"):
        s = meta["streaming"]
        console.print(f"step model: {s['mode']}, {s['frames_per_step']} frame(s) per step, "
                      f"{len(s['state_shapes'])} state tensor(s)")
    if meta["quantization"] != "none":
        console.print(f"quantization: {meta['quantization']}")
    console.print(f"parity on {p['n']} test clips ({p['compared']}): max |diff| {p['max_abs_diff']:.2e}, "
                  f"argmax agreement {p['argmax_agreement']:.2%}, accuracy keras {p['accuracy_keras']:.2%} "
                  f"-> export {p['accuracy_export']:.2%}")
    if not meta["features_streamable"]["exact"] and meta.get("streaming"):
        err_console.print(f"[yellow]note: {meta['features_streamable']['reason']}[/yellow]")
