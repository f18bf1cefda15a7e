"""``auricle cache build``: the sharded feature cache of a dataset, built on Dask workers."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from auricle.cli._app import app, console, friendly

cache_app = typer.Typer(no_args_is_help=True, help="Feature caches (the sharded cache for data larger than memory).")
app.add_typer(cache_app, name="cache")


@cache_app.command("build")
@friendly
def build(
    data: Path = typer.Argument(..., help="Dataset folder or manifest CSV."),
    layout: str = typer.Option("auto", "--layout", help="Dataset layout (see `auricle layouts`)."),
    preset: str = typer.Option("kws", "--preset", help="Feature preset (see `auricle presets`)."),
    duration: Optional[float] = typer.Option(None, "--duration", help="Clip length in seconds (default: the preset's)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Cache folder (default: <cache root>/shards)."),
    shard_size: int = typer.Option(2000, "--shard-size", help="Files per shard (and per task)."),
    workers: int = typer.Option(2, "--workers", help="Local Dask worker processes (1: in this process)."),
    cluster: Optional[str] = typer.Option(None, "--cluster",
                                          help="Join a running Dask scheduler, e.g. tcp://host:8786 (the cache "
                                               "folder must be on a filesystem its workers see)."),
):
    """Decode and featurize every file of DATA into shards + index.json, one Dask task per shard.

    Same bytes however many workers build it.  Read it back with `auricle.datasets.shards.open_shards(PATH).dataset(...)` (a shuffled, interleaved, prefetched tf.data pipeline whose memory does not grow with the dataset).
    """
    import time

    from auricle import datasets
    from auricle.datasets.cache import default_cache_dir
    from auricle.datasets.shards import build_shards
    from auricle.features import preset as make_preset

    ds = datasets.index(data, layout=layout)
    cfg = make_preset(preset, **({} if duration is None else {"duration": duration}))
    t0 = time.time()
    sh = build_shards([it.path for it in ds.items], cfg, cache_dir=out or default_cache_dir() / "shards",
                      shard_size=shard_size, workers=workers, cluster=cluster, progress=True)
    sec = time.time() - t0
    what = "found (cached)" if sh.cache_hit else f"built in {sec:.1f}s ({len(ds.items) / max(sec, 1e-9):,.0f} files/s)"
    console.print(f"[bold green]{len(sh.shards)} shard(s)[/bold green], {len(sh):,} rows of {sh.shape}, {what}: {sh.path}")
    if sh.failures:
        console.print(f"[yellow]skipped {len(sh.failures)} unreadable file(s)[/yellow] (first: {sh.failures[0][0]})")
