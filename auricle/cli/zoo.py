"""Model-zoo commands: list models (and, later, compare runs, tune hyperparameters)."""
from __future__ import annotations

import typer

from auricle.cli._app import app, console, friendly


@app.command()
@friendly
def models(
    features: str = typer.Option("kws", "--input", "-i", help="Feature preset giving the input shape."),
    classes: int = typer.Option(10, help="Number of classes."),
):
    """List registered models with their parameter counts for an input."""
    from rich.table import Table

    from auricle.features import preset
    from auricle.models import list_models

    fc = preset(features)
    shape = fc.output_shape
    t = Table(title=f"models for input {features} {shape}, {classes} classes")
    for c in ("name", "params", "float32 kB", "streaming", "description"):
        t.add_column(c)
    for spec in list_models():
        m = spec.build(shape, classes)
        n = m.count_params()
        t.add_row(spec.name, f"{n:,}", f"{n * 4 / 1024:.0f}", spec.streamable, spec.description)
    console.print(t)
