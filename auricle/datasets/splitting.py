"""Group-disjoint, stratified train/val/test splitting and leak detection.

Algorithm (:func:`split`)
-------------------------
Units are groups (speakers, actors, source recordings) or, with ``by="item"``, single files.
Units are ordered by size bucket (``floor(log2(size))``, largest first, so big groups are placed
while there is room) and shuffled by ``seed`` within a bucket.  Each unit then goes to the split
whose per-label fill after adding it is closest to its target, measured as
``sum_l (filled_l - target_l)^2 / target_l`` over the unit's labels (``stratify=False`` uses
the total count only).  Ties are broken with the seeded generator.  Finally, any split with a
positive share that got nothing takes the smallest unit from the split holding the most units,
so val and test are non-empty whenever there are at least as many units as splits.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from auricle.datasets._util import preview
from auricle.datasets.base import SPLITS, Dataset, Item
from auricle.errors import DatasetError


def leaks(dataset: Dataset | Iterable[Item]) -> dict[str, set[str]]:
    """Groups whose items sit in more than one split: ``{group: {"train", "test"}, ...}``."""
    items = dataset.items if isinstance(dataset, Dataset) else list(dataset)
    seen: dict[str, set[str]] = defaultdict(set)
    for it in items:
        if it.split is not None:
            seen[it.group].add(it.split)
    return {g: s for g, s in sorted(seen.items()) if len(s) > 1}


def split(dataset_or_items: Dataset | Iterable[Item], *, val: float = 0.15, test: float = 0.15, seed: int = 0,
          by: str = "group", stratify: bool = True, test_groups: Iterable[str] | str | None = None,
          val_groups: Iterable[str] | str | None = None, keep_existing: bool = True) -> Dataset:
    """Assign ``train``/``val``/``test`` to every item; returns a new :class:`Dataset`.

    Parameters
    ----------
    val, test : float
        Shares of the items to split (train gets the rest).  With ``keep_existing`` they apply
        to the unassigned items, and a split the layout already provides gets no more items.
    seed : int
        Same seed, same split.
    by : {"group", "item"}
        ``"group"`` (default) never puts one group in two splits; ``"item"`` splits files at
        random (warns, since speakers then leak across splits).
    stratify : bool
        Balance each split's label distribution towards the overall one.
    test_groups, val_groups : list of str
        Force these groups into test / val (e.g. leave-one-speaker-out).  Existing splits are
        then ignored; the other groups go to train, or are split with ``val``/``test`` for a
        split not given explicitly.
    keep_existing : bool
        Keep splits already set by the layout (Speech Commands lists, ESC-50 folds, manifest
        ``split`` column).  Unassigned items of a group already in a split join that split.

    Raises
    ------
    DatasetError
        Bad fractions or ``by``, unknown group names, a group in both test_groups and val_groups.
    """
    ds = _as_dataset(dataset_or_items)
    _check_fractions(val, test)
    if by not in ("group", "item"):
        raise DatasetError(f"by={by!r} is not a split mode", fix="use by='group' (speaker-disjoint) or by='item'")
    items = [replace(it, extra=dict(it.extra)) for it in ds.items]
    warnings = list(ds.warnings)
    if not items:
        raise DatasetError("nothing to split: the dataset has no items", fix="index a folder holding audio files")

    explicit = test_groups is not None or val_groups is not None
    if explicit:
        tg, vg = _as_list(test_groups), _as_list(val_groups)
        available = sorted({it.group for it in items})
        known = set(available)
        unknown = [g for g in tg + vg if g not in known]
        if unknown:
            raise DatasetError(f"unknown group(s) {', '.join(map(repr, unknown))}",
                               fix=f"available groups: {preview(available, 30)}")
        both = sorted(set(tg) & set(vg))
        if both:
            raise DatasetError(f"group(s) {', '.join(map(repr, both))} are in both test_groups and val_groups",
                               fix="put each group in only one of them")
        tset, vset = set(tg), set(vg)
        for it in items:
            it.split = "test" if it.group in tset else "val" if it.group in vset else None
        fr_val = 0.0 if val_groups is not None else val
        fr_test = 0.0 if test_groups is not None else test
    else:
        if not keep_existing:
            for it in items:
                it.split = None
        kept = [it for it in items if it.split is not None]
        present = {it.split for it in kept}
        fr_val = 0.0 if "val" in present else val
        fr_test = 0.0 if "test" in present else test
        if kept and by == "group":
            _join_existing(items, warnings)

    pool = [it for it in items if it.split is None]
    if pool:
        _assign(pool, fr_val=fr_val, fr_test=fr_test, seed=seed, by=by, stratify=stratify, warnings=warnings)

    got = Counter(it.split for it in items)
    for s, fr in (("val", fr_val), ("test", fr_test)):
        if fr > 0 and not got.get(s):
            warnings.append(f"split {s!r} is empty: too few groups to give it any" if pool else
                            f"split {s!r} is empty: the existing splits have none and no item was unassigned; "
                            "pass keep_existing=False to re-split everything")
    lk = leaks(items)
    if lk and by == "group":
        warnings.append(f"{len(lk)} group(s) appear in more than one split (from the existing splits): "
                        f"{preview(lk)}")
    return Dataset(ds.root, ds.layout, items, list(ds.labels), warnings, list(ds.background))


# --------------------------------------------------------------------------- internals

def _as_dataset(x) -> Dataset:
    if isinstance(x, Dataset):
        return x
    items = list(x)
    if items and not all(isinstance(it, Item) for it in items):
        raise DatasetError("split() takes a Dataset or a list of Item", fix="pass the result of index()")
    return Dataset("", "items", items)


def _as_list(x) -> list[str]:
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return [str(g) for g in x]


def _check_fractions(val: float, test: float) -> None:
    for name, f in (("val", val), ("test", test)):
        if not isinstance(f, (int, float)) or math.isnan(f) or not 0 <= f < 1:
            raise DatasetError(f"{name}={f!r} must be a fraction in [0, 1)", fix=f"e.g. {name}=0.15")
    if val + test >= 1:
        raise DatasetError(f"val + test = {val + test:g} leaves nothing for training", fix="keep val + test below 1, e.g. 0.15 each")


def _join_existing(items: list[Item], warnings: list[str]) -> None:
    """Unassigned items of a group that already has a split join that split."""
    where: dict[str, Counter] = defaultdict(Counter)
    for it in items:
        if it.split is not None:
            where[it.group][it.split] += 1
    for it in items:
        if it.split is None and it.group in where:
            it.split = where[it.group].most_common(1)[0][0]


def _assign(pool: list[Item], *, fr_val: float, fr_test: float, seed: int, by: str, stratify: bool,
            warnings: list[str]) -> None:
    shares = {"train": 1.0 - fr_val - fr_test, "val": fr_val, "test": fr_test}
    active = [s for s in SPLITS if shares[s] > 0]
    if active == ["train"]:
        for it in pool:
            it.split = "train"
        return
    groups: dict[str, list[Item]] = defaultdict(list)
    for it in pool:
        groups[it.group].append(it)
    item_level = by == "item"
    if not item_level and len(groups) == 1 and len(pool) > 1:
        warnings.append(f"only one group ({next(iter(groups))!r}) to split: fell back to an item-level split, "
                        "so train/val/test share it")
        item_level = True
    elif item_level and any(len(v) > 1 for v in groups.values()):
        warnings.append("by='item' splits files at random: the same speaker/source can appear in train and test, "
                        "which inflates test scores; prefer by='group'")
    units = [[it] for it in pool] if item_level else [groups[g] for g in sorted(groups)]

    rng = np.random.default_rng(seed)
    keys = rng.random(len(units))
    order = sorted(range(len(units)), key=lambda i: (-int(math.log2(len(units[i]))), keys[i]))

    labels = sorted({it.label for it in pool}) if stratify else ["*"]
    col = {lab: j for j, lab in enumerate(labels)}
    total = np.zeros(len(labels))
    vecs: list[dict[int, int]] = []
    for u in units:
        c = Counter(col[it.label] if stratify else 0 for it in u)
        vecs.append(c)
        for j, n in c.items():
            total[j] += n
    target = np.array([[shares[s] * t for t in total] for s in active])
    fill = np.zeros_like(target)
    members: list[list[int]] = [[] for _ in active]

    for i in order:
        v = vecs[i]
        costs = np.array([sum(n * (2 * (fill[k, j] - target[k, j]) + n) / target[k, j] for j, n in v.items())
                          for k in range(len(active))])
        best = np.flatnonzero(costs <= costs.min() + 1e-9)
        k = int(best[0]) if len(best) == 1 else int(rng.choice(best))
        members[k].append(i)
        for j, n in v.items():
            fill[k, j] += n

    # every split with a positive share gets at least one unit when possible
    for k in range(len(active)):
        if members[k]:
            continue
        donor = max(range(len(active)), key=lambda d: len(members[d]))
        if len(members[donor]) < 2:
            break
        smallest = min(members[donor], key=lambda i: (len(units[i]), keys[i]))
        members[donor].remove(smallest)
        members[k].append(smallest)

    for k, s in enumerate(active):
        for i in members[k]:
            for it in units[i]:
                it.split = s
