"""Model-zoo commands: list models (and, later, compare runs, tune hyperparameters)."""
from __future__ import annotations

import typer

from auricle.cli._app import app, console, friendly


@app.command()
@friendly
def models(
    features: str = typer.Option("kws", "--input", "-i",
                                 help="Feature preset giving the input shape (kws, seed, ...), or FRAMESxBINS "
                                      "such as 49x10."),
    classes: int = typer.Option(10, help="Number of classes."),
):
    """List registered models with their size and cost (default options) for an input.

    Columns: parameters (all weights), multiply-accumulates per example, weight memory at
    float32 and int8, whether the model can stream, and its description.
    """
    import re

    from rich.table import Table

    from auricle.errors import ConfigError
    from auricle.models import list_models
    from auricle.models.profile import model_profile

    m = re.fullmatch(r"\s*(\d+)\s*[xX,]\s*(\d+)\s*", features)
    if m:
        shape = (int(m.group(1)), int(m.group(2)))
    else:
        from auricle.features import preset

        shape = preset(features).output_shape
    if classes < 2:
        raise ConfigError(f"--classes must be at least 2, got {classes}", fix="pass --classes N with N >= 2")

    def human(n: float) -> str:
        for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
            if n >= div:
                return f"{n / div:.2f}{unit}"
        return f"{n:.0f}"

    t = Table(title=f"models for input {features} {shape}, {classes} classes")
    for c in ("name", "params", "MACs", "float32 kB", "int8 kB", "streaming", "description"):
        t.add_column(c, justify="right" if c in ("params", "MACs", "float32 kB", "int8 kB") else "left",
                     no_wrap=c == "name")
    for spec in list_models():
        try:
            p = model_profile(spec.build(shape, classes))
        except Exception as exc:  # a model that cannot take this input (e.g. too few frames)
            t.add_row(spec.name, "-", "-", "-", "-", spec.streamable,
                      f"[red]cannot build for {shape}: {type(exc).__name__}[/red]")
            continue
        t.add_row(spec.name, f"{p['params']:,}", human(p["macs"]), f"{p['kb_float32']:.1f}",
                  f"{p['kb_int8']:.1f}", spec.streamable, spec.description)
    console.print(t)
