"""What ``--recipe auto`` sees and picks on each real data set at hand (profile only, no training).

    .venv/bin/python bench/profile_domains.py [--instruments DIR] [--events DIR]

URDU and FSDD from ``../shared/data``, the Asterisk prompts (Debian ``asterisk-core-sounds-*-wav``,
labelled by language), a rendered instrument set (``auricle make-instruments DIR``) and the
generated sound-event set of ``bench/bench_environmental.py`` when their folders exist.  Prints one
Markdown row per set: the profile, the hint from labels / layout, the choice, the choice from the
acoustics alone (hints removed) and the seconds profiling took.  Figures: docs/experiments/domains.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> None:
    from auricle.datasets import Dataset, Item, index
    from auricle.datasets.profile import choose_recipe, profile_dataset

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    shared = ROOT.parent / "shared" / "data"
    ap.add_argument("--instruments", type=Path, default=Path("/tmp/mus_try"))
    ap.add_argument("--events", type=Path, default=Path("/tmp/auricle_bench_environmental/esc"))
    a = ap.parse_args(argv)
    sets = {}
    for name, path, opts in (("URDU", shared / "urdu", {}), ("FSDD", shared / "fsdd", {}),
                             ("rendered instruments", a.instruments, {}),
                             ("generated sound events", a.events, {"test_fold": None, "val_fold": None})):
        if path.exists():
            sets[name] = index(path, **opts)
    langs = ("en", "es", "fr", "it", "ru")
    items = [Item(p, lang, lang) for lang in langs
             for p in sorted(glob.glob(f"/usr/share/asterisk/sounds/{lang}/*.wav"))[:60]]
    if items:
        sets["Asterisk prompts (60 a language)"] = Dataset("/usr/share/asterisk/sounds", "manifest", items)
    print("| data | files | median s | Hz | voiced | syllabic | harmonic | flatness | hint | auto | acoustics only | s |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---|---|---|---:|")
    for name, ds in sets.items():
        t = time.time()
        p = profile_dataset(ds)
        dt = time.time() - t
        c = choose_recipe(p)
        alone = choose_recipe(dataclasses.replace(p, layout_hint=None, label_hint=None))
        print(f"| {name} | {p.n_files} | {p.median_s:.1f} | {','.join(map(str, p.rates))} | {p.voiced:.2f} | "
              f"{p.syllabic:.2f} | {p.harmonicity:.2f} | {p.flatness:.3f} | {p.label_hint or p.layout_hint or '-'} | "
              f"**{c.name}** | {alone.name} | {dt:.1f} |")


if __name__ == "__main__":
    main()
