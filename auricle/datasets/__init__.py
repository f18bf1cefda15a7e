"""Datasets: index audio folders into labelled items, split them without speaker leaks, audit them.

>>> from auricle.datasets import index, split, audit          # doctest: +SKIP
>>> ds = index("data/speech_commands")                         # doctest: +SKIP
>>> ds = split(ds, val=0.15, test=0.15, seed=0)                # doctest: +SKIP
>>> audit(ds).render()                                         # doctest: +SKIP

* :func:`index` - folder / manifest -> :class:`Dataset` (layout auto-detected, see :mod:`.layouts`)
* :func:`split` - group-disjoint, stratified train/val/test; :func:`leaks` finds groups in two splits
* :func:`audit` - decode every file: durations, unreadable, silent, duplicate files, leaks
"""
from auricle.datasets.audit import AuditReport, DuplicateSet, audit
from auricle.datasets.base import SPLITS, Dataset, Item, normalize_split
from auricle.datasets.indexing import index
from auricle.datasets.layouts import LAYOUTS, Layout, LayoutResult, detect_layout, register_layout
from auricle.datasets.splitting import leaks, split

__all__ = [
    "AuditReport", "Dataset", "DuplicateSet", "Item", "LAYOUTS", "Layout", "LayoutResult", "SPLITS",
    "audit", "detect_layout", "index", "leaks", "normalize_split", "register_layout", "split",
]
