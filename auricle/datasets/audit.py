""":func:`audit`: decode every file once and report what would hurt training.

The report holds class counts per split, duration statistics (overall and per class), files
that cannot be decoded, silent files (peak below ``silence_db`` dBFS), duplicate files (same
decoded audio and sample rate, so a re-encoded copy counts too), groups leaking across splits,
and the sample rates and channel counts seen.
"""
from __future__ import annotations

import hashlib
import math
import os
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from auricle.audio import load_native
from auricle.datasets._util import progress_iter
from auricle.datasets.base import SPLITS, Dataset
from auricle.datasets.splitting import leaks as find_leaks
from auricle.errors import AudioError

UNASSIGNED = "unassigned"


@dataclass
class DuplicateSet:
    """Files with identical decoded audio."""
    paths: list[str]
    labels: list[str]
    splits: list[str | None]

    @property
    def cross_split(self) -> bool:
        """The copies sit in different splits (test data seen in training)."""
        return len({s for s in self.splits if s is not None}) > 1

    @property
    def label_conflict(self) -> bool:
        """The copies carry different labels."""
        return len(set(self.labels)) > 1


@dataclass
class AuditReport:
    root: str
    layout: str
    n_items: int
    labels: list[str]
    counts: dict[str, dict[str, int]]
    durations: dict[str, float]
    durations_by_class: dict[str, dict[str, float]]
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    silent: list[tuple[str, float]] = field(default_factory=list)
    duplicates: list[DuplicateSet] = field(default_factory=list)
    leaks: dict[str, list[str]] = field(default_factory=dict)
    samplerates: dict[int, int] = field(default_factory=dict)
    channels: dict[int, int] = field(default_factory=dict)
    silence_db: float = -60.0
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_problems(self) -> int:
        return len(self.unreadable) + len(self.silent) + len(self.duplicates) + len(self.leaks)

    @property
    def ok(self) -> bool:
        """No unreadable, silent or duplicate files and no leaks."""
        return self.n_problems == 0

    def to_dict(self) -> dict:
        """JSON-serialisable form (a peak of -inf dBFS, i.e. all zeros, becomes ``None``)."""
        return {
            "root": self.root, "layout": self.layout, "n_items": self.n_items, "labels": list(self.labels),
            "counts": {s: dict(c) for s, c in self.counts.items()},
            "durations": dict(self.durations),
            "durations_by_class": {k: dict(v) for k, v in self.durations_by_class.items()},
            "unreadable": [{"path": p, "error": e} for p, e in self.unreadable],
            "silent": [{"path": p, "peak_db": (None if math.isinf(db) else round(db, 2))} for p, db in self.silent],
            "silence_db": self.silence_db,
            "duplicates": [{"paths": d.paths, "labels": d.labels, "splits": d.splits,
                            "cross_split": d.cross_split, "label_conflict": d.label_conflict} for d in self.duplicates],
            "leaks": {g: list(s) for g, s in self.leaks.items()},
            "samplerates": {str(k): v for k, v in self.samplerates.items()},
            "channels": {str(k): v for k, v in self.channels.items()},
            "notes": list(self.notes), "warnings": list(self.warnings),
            "ok": self.ok, "n_problems": self.n_problems,
        }

    def render(self, console=None, *, max_rows: int = 10) -> None:
        """Print the report as rich tables."""
        from rich.console import Console
        from rich.table import Table

        console = console or Console()
        rel = _relativizer(self.root)

        console.print(f"[bold]Dataset audit:[/bold] {self.root}")
        t = Table(show_header=False)
        t.add_column(style="bold")
        t.add_column()
        d = self.durations
        t.add_row("layout", self.layout)
        t.add_row("files", f"{self.n_items} ({len(self.unreadable)} unreadable)")
        t.add_row("classes", str(len(self.labels)))
        if d.get("count"):
            t.add_row("total duration", _hms(d["total"]))
        t.add_row("sample rates", ", ".join(f"{sr} Hz x{n}" for sr, n in sorted(self.samplerates.items())) or "-")
        t.add_row("channels", ", ".join(f"{c} ch x{n}" for c, n in sorted(self.channels.items())) or "-")
        console.print(t)

        splits = list(self.counts)
        console.print("[bold]Class counts per split[/bold]")
        t = Table()
        t.add_column("class")
        for s in splits:
            t.add_column(s, justify="right")
        t.add_column("total", justify="right", style="bold")
        for lab in self.labels:
            row = [self.counts[s].get(lab, 0) for s in splits]
            t.add_row(lab, *(str(n) if n else "[red]0[/red]" for n in row), str(sum(row)))
        t.add_row("[bold]all[/bold]", *(str(sum(self.counts[s].values())) for s in splits),
                  str(sum(sum(c.values()) for c in self.counts.values())))
        console.print(t)

        if d.get("count"):
            console.print("[bold]Durations (seconds)[/bold]")
            t = Table()
            for c in ("class", "files", "min", "median", "mean", "max"):
                t.add_column(c, justify="left" if c == "class" else "right")
            for lab, st in [*self.durations_by_class.items(), ("[bold]all[/bold]", d)]:
                t.add_row(lab, str(st["count"]), *(f"{st[k]:.2f}" for k in ("min", "median", "mean", "max")))
            console.print(t)

        def issue_table(title, columns, rows):
            if not rows:
                return
            console.print(f"[bold red]{title} ({len(rows)})[/bold red]")
            t = Table()
            for c in columns:
                t.add_column(c, overflow="fold")
            for r in rows[:max_rows]:
                t.add_row(*r)
            if len(rows) > max_rows:
                t.add_row(f"... and {len(rows) - max_rows} more", *[""] * (len(columns) - 1))
            console.print(t)

        issue_table("Unreadable files", ["file", "error"], [(rel(p), e) for p, e in self.unreadable])
        issue_table(f"Silent files (peak < {self.silence_db:g} dBFS)", ["file", "peak dBFS"],
                    [(rel(p), "-inf" if math.isinf(db) else f"{db:.1f}") for p, db in self.silent])
        issue_table("Duplicate files", ["files", "labels", "splits", "problem"],
                    [("\n".join(rel(p) for p in ds.paths), ", ".join(sorted(set(ds.labels))),
                      ", ".join(sorted({s or UNASSIGNED for s in ds.splits})),
                      ", ".join(x for x, on in (("crosses splits", ds.cross_split),
                                                ("label conflict", ds.label_conflict)) if on) or "copy")
                     for ds in self.duplicates])
        issue_table("Groups in more than one split", ["group", "splits"],
                    [(rel(g), ", ".join(s)) for g, s in self.leaks.items()])
        for w in self.warnings:
            console.print(f"[yellow]warning:[/yellow] {w}")
        for n in self.notes:
            console.print(f"[yellow]note:[/yellow] {n}")
        if self.ok:
            console.print("[green]No problems found.[/green]")
        else:
            console.print(f"[red]{self.n_problems} problem(s) found.[/red]")


def audit(dataset: Dataset, *, silence_db: float = -60.0, progress: bool = True,
          workers: int | None = None) -> AuditReport:
    """Decode every file of ``dataset`` once and collect the problems worth fixing before training.

    Parameters
    ----------
    silence_db : float
        A file whose peak is below this level (dBFS) is reported as silent.
    progress : bool
        Show a rich progress bar (stderr) while reading files.
    workers : int, optional
        Decoding threads (default: up to 8).
    """
    items = list(dataset.items)
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(progress_iter(pool.map(_scan, [it.path for it in items]), total=len(items),
                                     description="auditing audio", enabled=progress))

    unreadable: list[tuple[str, str]] = []
    silent: list[tuple[str, float]] = []
    srs: Counter = Counter()
    chans: Counter = Counter()
    durs: list[float] = []
    durs_by: dict[str, list[float]] = defaultdict(list)
    by_hash: dict[str, list[int]] = defaultdict(list)
    for i, (it, r) in enumerate(zip(items, results)):
        if "error" in r:
            unreadable.append((it.path, r["error"]))
            continue
        srs[r["sr"]] += 1
        chans[r["channels"]] += 1
        durs.append(r["duration"])
        durs_by[it.label].append(r["duration"])
        if r["peak_db"] < silence_db:
            silent.append((it.path, r["peak_db"]))
        by_hash[r["hash"]].append(i)
    duplicates = [DuplicateSet([items[i].path for i in idx], [items[i].label for i in idx], [items[i].split for i in idx])
                  for idx in by_hash.values() if len(idx) > 1]

    counts: dict[str, dict[str, int]] = {}
    present = Counter(it.split for it in items)
    for s in SPLITS:
        if present.get(s):
            counts[s] = dataset.counts(s)
    if present.get(None):
        c = Counter(it.label for it in items if it.split is None)
        counts[UNASSIGNED] = {lab: c.get(lab, 0) for lab in dataset.labels}
    lk = {g: [s for s in SPLITS if s in ss] for g, ss in find_leaks(items).items()}

    report = AuditReport(
        root=dataset.root, layout=dataset.layout, n_items=len(items), labels=list(dataset.labels),
        counts=counts, durations=_stats(durs),
        durations_by_class={lab: _stats(durs_by[lab]) for lab in dataset.labels if durs_by.get(lab)},
        unreadable=unreadable, silent=silent, duplicates=duplicates, leaks=lk,
        samplerates=dict(sorted(srs.items())), channels=dict(sorted(chans.items())),
        silence_db=float(silence_db), warnings=list(dataset.warnings),
    )
    report.notes = _notes(report)
    return report


# --------------------------------------------------------------------------- internals

def _scan(path: str) -> dict:
    try:
        y, sr = load_native(path, mono=False)
    except AudioError as exc:
        return {"error": exc.message}
    except Exception as exc:  # anything else while decoding is still "unreadable", not a crash
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    h = hashlib.sha1(f"{sr}:{y.shape[0]}:".encode())
    h.update(np.ascontiguousarray(y).tobytes())
    return {"sr": int(sr), "channels": int(y.shape[0]), "duration": y.shape[1] / sr,
            "peak_db": 20 * math.log10(peak) if peak > 0 else -math.inf, "hash": h.hexdigest()}


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0, "total": 0.0, "min": 0.0, "median": 0.0, "mean": 0.0, "max": 0.0}
    a = np.asarray(values, dtype=float)
    return {"count": int(a.size), "total": float(a.sum()), "min": float(a.min()), "median": float(np.median(a)),
            "mean": float(a.mean()), "max": float(a.max())}


def _notes(r: AuditReport) -> list[str]:
    notes: list[str] = []
    for s, c in r.counts.items():
        if s == UNASSIGNED:
            continue
        empty = [lab for lab, n in c.items() if n == 0]
        if empty:
            notes.append(f"{len(empty)} class(es) have no files in {s}: {', '.join(empty[:10])}"
                         + (" ..." if len(empty) > 10 else ""))
    tot = Counter()
    for c in r.counts.values():
        tot.update(c)
    nz = [n for n in tot.values() if n > 0]
    if len(nz) >= 2 and max(nz) >= 3 * min(nz):
        notes.append(f"classes are imbalanced (largest/smallest = {max(nz)}/{min(nz)}); "
                     "consider class weights or balanced sampling")
    if len(r.samplerates) > 1:
        notes.append(f"{len(r.samplerates)} different sample rates; files are resampled when loaded")
    cross = sum(d.cross_split for d in r.duplicates)
    if cross:
        notes.append(f"{cross} duplicate set(s) span splits: the model will be tested on audio it trained on")
    conflict = sum(d.label_conflict for d in r.duplicates)
    if conflict:
        notes.append(f"{conflict} duplicate set(s) carry different labels")
    return notes


def _relativizer(root: str):
    base = Path(root) if root else None
    if base is not None and base.is_file():
        base = base.parent

    def rel(p: str) -> str:
        if base is None:
            return p
        try:
            return Path(p).relative_to(base).as_posix()
        except ValueError:
            return p
    return rel


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s" if m else f"{seconds:.1f}s"
