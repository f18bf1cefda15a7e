"""Spoken language identification bench on real telephone prompts: ``--recipe language`` vs
``--recipe classic`` vs XGBoost on summary features, and the speaker-shared pitfall measured.

Real data: Debian's ``asterisk-core-sounds-{en,es,fr,it,ru}-wav`` (human recordings of IVR prompts,
8 kHz, CC-BY-SA; installed with apt-get when missing and run as root), indexed under
``/usr/share/asterisk/sounds/<lang>/``; never copied into the repository.  Each language is one
professional voice, named by the package's directory (``en_US_f_Allison``, ``es_MX_f_Allison``,
``fr_CA_f_June``, ``it_IT_m_Carlo``, ``ru_RU_f_IvrvoiceRU``): English and Spanish are the SAME voice,
the others one voice each.  So no split can hold a voice out without holding its language out, and
a 5-language model can tell fr/it/ru apart by the voice alone.  What the bench measures:

``five``     5 languages, prompt-disjoint split (a prompt's recordings in every language share a
             split, so the test prompts are texts never heard in training); all three arms.
             Accuracy here is language AND voice; the en/es pair is the only part of it that is
             language alone, so the en<->es confusion is printed too.
``random``   the same, split by item (leaky: the same prompt text in other languages is in training).
``enes``     English vs Spanish only, one voice: language identification with the speaker held
             constant - the honest figure on this data.
``pitfall``  trained on en vs fr (two voices), then given the Spanish prompts (the English voice
             speaking another language): the share called "en" is the share decided by the voice.

Also printed: the voice of each language (directory names) and the median pitch of its prompts.
For each seed the split and the training seed change together.  Results: ``WORK/results.{json,md}``.

    nice -n 10 .venv/bin/python bench/bench_language.py                    # all of it, 3 seeds
    nice -n 10 .venv/bin/python bench/bench_language.py --parts five --arms language --seeds 0

Figures and conclusions: docs/experiments/language-id.md.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LANGS = ("en", "es", "fr", "it", "ru")
SOUNDS = Path("/usr/share/asterisk/sounds")
#: prompts that are tones or silence, not speech
NOT_SPEECH = ("beep", "tone", "silence", "ding", "dong", "ring", "busy", "info-tone", "music")


def ensure_installed(langs=LANGS) -> None:
    missing = [lang for lang in langs if not (SOUNDS / lang).exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"error: {', '.join(missing)} prompts missing under {SOUNDS}; as root: apt-get install -y "
                         + " ".join(f"asterisk-core-sounds-{m}-wav" for m in missing))
    subprocess.run(["apt-get", "install", "-y", *[f"asterisk-core-sounds-{m}-wav" for m in missing]], check=True)


def voice_of(lang: str) -> str:
    """The recording voice, from the package's directory name (``en_US_f_Allison`` -> ``Allison``)."""
    real = (SOUNDS / lang).resolve().name
    return real.split("_")[-1] if real.count("_") >= 3 else real


def index_prompts(langs=LANGS) -> dict[str, dict[str, Path]]:
    """``{lang: {prompt name: path}}``: speech prompts (tones, beeps and silence left out, >= 0.4 s)."""
    import soundfile as sf

    out = {}
    for lang in langs:
        base = (SOUNDS / lang).resolve()
        d = {}
        for p in sorted(base.rglob("*.wav")):
            name = str(p.relative_to(base).with_suffix(""))
            if any(w in name.lower() for w in NOT_SPEECH):
                continue
            if sf.info(str(p)).duration >= 0.4:
                d[name] = p
        out[lang] = d
    return out


def median_pitch(paths, n: int = 25) -> float:
    """Median f0 (Hz, YIN 60-400 Hz) over voiced frames of ``n`` prompts: a listen-free voice check."""
    import librosa

    f0s = []
    for p in list(paths)[:n]:
        y, sr = librosa.load(str(p), sr=8000)
        f0 = librosa.yin(y, fmin=60, fmax=400, sr=sr, frame_length=512)
        rms = librosa.feature.rms(y=y, frame_length=512, hop_length=128)[0][:len(f0)]
        f0s.append(f0[:len(rms)][rms > 0.3 * rms.max()])
    return float(np.median(np.concatenate(f0s)))


def write_manifest(prompts, langs, names, out: Path, *, group_by: str = "prompt") -> Path:
    rows = ["path,label,group"]
    for name in names:
        for lang in langs:
            if name in prompts[lang]:
                g = name.replace(",", "_") if group_by == "prompt" else f"{lang}:{name}"
                rows.append(f"{prompts[lang][name]},{lang},{g}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(rows) + "\n")
    return out


def _figures(m: dict) -> dict:
    rec = m.get("per_recording") or m
    val = m["splits"].get("val", {})
    run = m.get("run") or {}
    return {"test": float(rec["accuracy"]), "n_test": int(rec["n"]),
            "val": float((val.get("per_recording") or val).get("accuracy", float("nan"))),
            "seconds": float(run.get("train_seconds", 0.0)), "wall": float(run.get("wall_seconds", 0.0))}


def run_arm(arm: str, seed: int, manifest: Path, run_dir: Path, work: Path, *, epochs, sets, split_by="group"):
    from rich.console import Console

    from auricle.cli._app import _parse_value
    from auricle.config import RunConfig, recipe, set_dotted
    from auricle.training import train

    data = {"root": str(manifest), "layout": "manifest", "val": 0.15, "test": 0.2, "split_seed": seed,
            "split_by": split_by}
    over = {"data": data, "train": {"seed": seed, "cache_dir": str(work / "cache")}}
    d = recipe("language" if arm == "language" else "classic", over).to_dict()
    if arm == "xgboost":
        d["model"] = {"name": "xgboost", "options": {}}
    if arm == "language":
        for s in sets:
            k, v = s.split("=", 1)
            set_dotted(d, k, _parse_value(v))
        if epochs:
            d["train"]["epochs"] = epochs
    m = train(RunConfig.from_dict(d), run_dir, overwrite=True, console=Console(quiet=True), progress=False)
    out = {"arm": arm, "seed": seed, **_figures(m)}
    cm = m.get("confusion") or (m.get("per_recording") or {}).get("confusion")
    labels = json.loads((run_dir / "labels.json").read_text())
    if cm is not None and "en" in labels and "es" in labels:
        cm = np.asarray(cm)
        i, j = labels.index("en"), labels.index("es")
        out["en_es_confused"] = float((cm[i, j] + cm[j, i]) / max(1, cm[i].sum() + cm[j].sum()))
    return out


def pitfall(prompts, names_train, seed, work, *, epochs, sets) -> dict:
    """Train en vs fr (two voices); the share of Spanish prompts (the English voice) called ``en``."""
    from auricle.inference import load_run, predict_files

    manifest = write_manifest(prompts, ("en", "fr"), names_train, work / f"pitfall{seed}.csv")
    r = run_arm("language", seed, manifest, work / f"seed{seed}" / "pitfall", work, epochs=epochs, sets=sets)
    run = load_run(work / f"seed{seed}" / "pitfall")
    es = [prompts["es"][n] for n in sorted(prompts["es"])][:150]
    preds = predict_files(run, es, top_k=1)
    share = float(np.mean([p.top[0][0] == "en" for p in preds if p.top]))
    return {**r, "arm": "language", "es_called_en": share, "n_es": len(es)}


def table(rows, part) -> str:
    r = [x for x in rows if x["part"] == part]
    lines = []
    for arm in dict.fromkeys(x["arm"] for x in r):
        a = [x for x in r if x["arm"] == arm]
        t, v, s = (np.array([x[k] for x in a]) for k in ("test", "val", "seconds"))
        extra = ""
        if "en_es_confused" in a[0]:
            c = np.array([x.get("en_es_confused", np.nan) for x in a])
            extra += f" en<->es confused {np.nanmean(c):.1%};"
        if "es_called_en" in a[0]:
            c = np.array([x["es_called_en"] for x in a])
            extra += f" Spanish prompts called en: {c.mean():.1%} +- {c.std():.1%};"
        lines.append(f"| {part} | {arm} | {t.mean():.1%} +- {t.std():.1%} ({', '.join(f'{x:.1%}' for x in t)}) | "
                     f"{v.mean():.1%} | {s.mean():.0f} |{extra} n_test {a[0]['n_test']} | {len(a)} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/auricle_bench_language"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--parts", default="five,enes,pitfall", help="comma-separated: five, random, enes, pitfall")
    ap.add_argument("--arms", default="language,classic,xgboost", help="arms of the 'five' part")
    ap.add_argument("--prompts", type=int, default=150, help="prompts (texts) drawn, each in every language")
    ap.add_argument("--epochs", type=int, default=None, help="override the language recipe's epochs")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="key=value for the language arm")
    ap.add_argument("--tag", default="")
    a = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    ensure_installed()
    prompts = index_prompts()
    voices = {lang: voice_of(lang) for lang in LANGS}
    shared = sorted(set.intersection(*(set(prompts[lang]) for lang in LANGS)))
    print("voices: " + ", ".join(f"{lang} {voices[lang]} ({len(prompts[lang])} prompts, median f0 "
                                 f"{median_pitch(prompts[lang].values()):.0f} Hz)" for lang in LANGS), flush=True)
    same = [(x, y) for i, x in enumerate(LANGS) for y in LANGS[i + 1:] if voices[x] == voices[y]]
    print(f"languages sharing a voice: {same or 'none'}; {len(shared)} prompts exist in all five", flush=True)
    names = sorted(random.Random(0).sample(shared, min(a.prompts, len(shared))))
    parts = [p.strip() for p in a.parts.split(",") if p.strip()]
    arms = [x.strip() for x in a.arms.split(",") if x.strip()]
    rows = []
    for seed in a.seeds:
        for part in parts:
            t0 = time.time()
            if part in ("five", "random"):
                man = write_manifest(prompts, LANGS, names, a.work / f"{part}.csv")
                for arm in arms:
                    r = run_arm(arm, seed, man, a.work / f"seed{seed}" / f"{part}-{arm}", a.work, epochs=a.epochs,
                                sets=a.sets, split_by="item" if part == "random" else "group")
                    rows.append({"part": part, **r})
                    print(f"  seed {seed} {part:7s} {arm:8s} test {r['test']:.1%} val {r['val']:.1%} "
                          f"en<->es {r.get('en_es_confused', float('nan')):.1%} {r['seconds']:.0f} s", flush=True)
            elif part == "enes":
                man = write_manifest(prompts, ("en", "es"), names, a.work / "enes.csv")
                for arm in [x for x in arms if x in ("language", "xgboost")]:
                    r = run_arm(arm, seed, man, a.work / f"seed{seed}" / f"enes-{arm}", a.work, epochs=a.epochs,
                                sets=a.sets)
                    rows.append({"part": part, **r})
                    print(f"  seed {seed} enes    {arm:8s} test {r['test']:.1%} val {r['val']:.1%} "
                          f"{r['seconds']:.0f} s", flush=True)
            elif part == "pitfall":
                r = pitfall(prompts, names, seed, a.work, epochs=a.epochs, sets=a.sets)
                rows.append({"part": part, **r})
                print(f"  seed {seed} pitfall en-vs-fr test {r['test']:.1%}; Spanish prompts called en "
                      f"{r['es_called_en']:.1%} ({time.time() - t0:.0f} s)", flush=True)
    head = ["| part | arm | test accuracy per utterance (mean +- std) | val | train s | notes | seeds |",
            "|---|---|---|---|---|---|---|"]
    md = "\n".join(head + [table(rows, p) for p in parts])
    print(md)
    tag = f"-{a.tag}" if a.tag else ""
    a.work.mkdir(parents=True, exist_ok=True)
    (a.work / f"results{tag}.json").write_text(json.dumps({"sets": a.sets, "voices": voices, "rows": rows}, indent=1))
    (a.work / f"results{tag}.md").write_text(md + "\n")


if __name__ == "__main__":
    main()
