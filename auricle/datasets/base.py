"""The two data types every layout produces: :class:`Item` and :class:`Dataset`."""
from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from auricle.errors import DatasetError

#: Split names, in canonical order.
SPLITS = ("train", "val", "test")

_SPLIT_ALIASES = {
    "train": "train", "training": "train", "tr": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val", "development": "val",
    "test": "test", "testing": "test", "eval": "test", "evaluation": "test",
}


def normalize_split(value: str | None) -> str | None:
    """Map a split name (``train``/``val``/``valid``/``validation``/``dev``/``test``/...) to
    ``"train"``, ``"val"``, ``"test"``; empty or ``None`` gives ``None``.

    Raises
    ------
    ValueError
        For a name that is not a known split (callers turn this into a DatasetError).
    """
    if value is None:
        return None
    v = str(value).strip().lower()
    if not v:
        return None
    if v not in _SPLIT_ALIASES:
        raise ValueError(f"unknown split {value!r}; use one of train, val, test (or leave it empty)")
    return _SPLIT_ALIASES[v]


@dataclass
class Item:
    """One labelled audio file.

    ``group`` is the speaker / actor / source-recording id used to keep splits disjoint;
    layouts without speaker information use the file's own path.
    """
    path: str
    label: str
    group: str
    split: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Dataset:
    """An indexed dataset: items plus the sorted class list.

    ``labels`` is the class list of the *whole* dataset (subsets keep it, so class indices
    stay stable).  ``background`` lists noise files that are not a class (Speech Commands'
    ``_background_noise_``), useful for augmentation.
    """
    root: str
    layout: str
    items: list[Item]
    labels: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    background: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.labels:
            self.labels = sorted({it.label for it in self.items})

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def counts(self, split: str | None = None) -> dict[str, int]:
        """Items per label (every label of the dataset, zeros included), optionally for one split."""
        items = self.items if split is None else [it for it in self.items if it.split == split]
        c = Counter(it.label for it in items)
        return {lab: c.get(lab, 0) for lab in self.labels}

    def subset(self, split: str) -> "Dataset":
        """The items of one split (``"train"``, ``"val"`` or ``"test"``), same labels."""
        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}", fix=f"use one of {', '.join(SPLITS)}")
        return replace(self, items=[it for it in self.items if it.split == split],
                       labels=list(self.labels), warnings=list(self.warnings),
                       background=list(self.background))

    def groups(self) -> list[str]:
        """Sorted unique group ids (speakers / actors / sources)."""
        return sorted({it.group for it in self.items})

    def splits(self) -> dict[str, int]:
        """Items per split in canonical order (``None`` counted under ``"unassigned"``)."""
        c = Counter(it.split for it in self.items)
        out = {s: c[s] for s in SPLITS if c.get(s)}
        if c.get(None):
            out["unassigned"] = c[None]
        return out

    def to_manifest(self, path: str | Path) -> Path:
        """Write a manifest CSV (``path,label,group,split`` plus extra columns) that
        ``index(path)`` reads back, e.g. to freeze a split."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        extra_cols: list[str] = []
        for it in self.items:
            for k in it.extra:
                if k not in extra_cols and k not in ("path", "label", "group", "split"):
                    extra_cols.append(k)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["path", "label", "group", "split", *extra_cols])
            for it in self.items:
                w.writerow([it.path, it.label, it.group, it.split or "",
                            *("" if it.extra.get(k) is None else it.extra.get(k) for k in extra_cols)])
        return path
