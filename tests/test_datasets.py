import csv
import io
import itertools
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
import numpy as np

from auricle.datasets import (LAYOUTS, Item, audit, detect_layout, index, leaks, register_layout,
                              split)
from auricle.errors import DatasetError

# --------------------------------------------------------------------------- fixture builders
# Every file gets its own frequency so no two generated files are accidental duplicates.

_freq = itertools.count()


def _wav(make_wav, path, **kw):
    kw.setdefault("freq", 150.0 + 23.0 * (next(_freq) % 150))
    return make_wav(path, sr=8000, seconds=0.1, **kw)


def build_folder(root, make_wav, classes=("cat", "dog"), per_class=3):
    for c in classes:
        for i in range(per_class):
            _wav(make_wav, root / c / f"spk{i % 2}_{c}_{i}.wav")
    return root


SC_SPEAKERS = ["0a1b2c3d", "11aa22bb", "3c4d5e6f", "77ee88ff", "9999aaaa", "bbbb0000"]


def build_speech_commands(root, make_wav):
    for w in ("yes", "no", "up"):
        for s in SC_SPEAKERS:
            for k in range(2):
                _wav(make_wav, root / w / f"{s}_nohash_{k}.wav")
    _wav(make_wav, root / "_background_noise_" / "white_noise.wav", freq=None)
    (root / "LICENSE").write_text("cc-by\n")
    val = [f"{w}/{SC_SPEAKERS[4]}_nohash_{k}.wav" for w in ("yes", "no", "up") for k in range(2)]
    test = [f"{w}/{SC_SPEAKERS[5]}_nohash_{k}.wav" for w in ("yes", "no", "up") for k in range(2)]
    (root / "validation_list.txt").write_text("\n".join(val) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    return root


FSDD_SPEAKERS = ["george", "jackson", "lucas", "nicolas"]


def build_fsdd(root, make_wav):
    for d in range(3):
        for s in FSDD_SPEAKERS:
            for i in (0, 7):
                _wav(make_wav, root / "recordings" / f"{d}_{s}_{i}.wav")
    (root / "README.md").write_text("fsdd\n")
    return root


def build_esc50(root, make_wav):
    rows = []
    for fold in range(1, 6):
        for ci, cat in enumerate(("dog", "rain")):
            src = f"{100 + fold * 10 + ci}"
            for take in "AB":  # two takes of one source recording, same fold
                fn = f"{fold}-{src}-{take}-{ci}.wav"
                _wav(make_wav, root / "audio" / fn)
                rows.append([fn, fold, ci, cat, "True" if cat == "dog" else "False", src, take])
    (root / "meta").mkdir(parents=True)
    with open(root / "meta" / "esc50.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        w.writerows(rows)
    return root


def build_gtzan(root, make_wav, genres=("blues", "jazz", "rock"), sub="genres_original"):
    base = root / sub if sub else root
    for g in genres:
        for i in range(2):
            _wav(make_wav, base / g / f"{g}.{i:05d}.wav")
    return root


def build_cremad(root, make_wav):
    for actor in (1001, 1002, 1003, 1004):
        for emo in ("ANG", "HAP", "NEU"):
            _wav(make_wav, root / "AudioWAV" / f"{actor}_DFA_{emo}_XX.wav")
    return root


def build_manifest(root, make_wav):
    rows = [["path", "label", "group", "split", "note"]]
    for i in range(8):
        lab = "hi" if i % 2 else "lo"
        rel = f"clips/{lab}_{i}.wav"
        _wav(make_wav, root / rel)
        rows.append([rel, lab, f"g{i // 2}", "test" if i >= 6 else "", f"n{i}"])
    with open(root / "manifest.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return root


BUILDERS = {"folder": build_folder, "speech_commands": build_speech_commands, "fsdd": build_fsdd,
            "esc50": build_esc50, "gtzan": build_gtzan, "cremad": build_cremad, "manifest": build_manifest}


def synthetic_items(n_groups=40, labels=("a", "b", "c", "d"), seed=0):
    """In-memory items (no files): groups of 1-8 items, each group mostly one label."""
    import random
    r = random.Random(seed)
    items = []
    for g in range(n_groups):
        main = labels[g % len(labels)]
        for k in range(r.randint(1, 8)):
            lab = main if r.random() < 0.8 else r.choice(labels)
            items.append(Item(f"/x/g{g}_{k}.wav", lab, f"g{g}"))
    return items


# --------------------------------------------------------------------------- layouts

@pytest.mark.parametrize("name", list(BUILDERS))
def test_auto_detects_every_layout(tmp_path, make_wav, name):
    root = BUILDERS[name](tmp_path / name, make_wav)
    assert detect_layout(root) == name
    ds = index(root)
    assert ds.layout == name and len(ds.labels) >= 2 and len(ds) > 0
    assert all(Path(it.path).is_file() for it in ds.items)


def test_folder_layout(tmp_path, make_wav):
    root = build_folder(tmp_path / "d", make_wav)
    _wav(make_wav, root / "stray.wav")
    (root / "empty_class").mkdir()
    (root / "cat" / "notes.txt").write_text("x")
    (root / "cat" / "._hidden.wav").write_bytes(b"\x00" * 10)  # macOS metadata file, skipped
    ds = index(root)
    assert ds.labels == ["cat", "dog"]
    assert ds.counts() == {"cat": 3, "dog": 3}
    assert all(it.group == it.path and it.split is None for it in ds.items)  # no speaker info
    assert any("stray.wav" in w for w in ds.warnings)
    assert any("empty_class" in w for w in ds.warnings)


def test_folder_group_regex_and_presplit(tmp_path, make_wav):
    ds = index(build_folder(tmp_path / "d", make_wav), group_regex=r"^(spk\d)_")
    assert ds.groups() == ["spk0", "spk1"]
    with pytest.raises(DatasetError, match="regular expression"):
        index(tmp_path / "d", group_regex="(")
    root = tmp_path / "pre"
    for sp in ("train", "valid", "test"):
        build_folder(root / sp, make_wav, per_class=1)
    ds = index(root)
    assert ds.labels == ["cat", "dog"] and ds.splits() == {"train": 2, "val": 2, "test": 2}


def test_folder_files_in_root_only(tmp_path, make_wav):
    _wav(make_wav, tmp_path / "a.wav")
    _wav(make_wav, tmp_path / "b.wav")
    with pytest.raises(DatasetError, match="no class subfolders"):
        index(tmp_path)


def test_speech_commands(tmp_path, make_wav):
    ds = index(build_speech_commands(tmp_path / "sc", make_wav))
    assert ds.labels == ["no", "up", "yes"]
    assert "_background_noise_" not in ds.labels
    assert [Path(p).name for p in ds.background] == ["white_noise.wav"]
    assert ds.groups() == sorted(SC_SPEAKERS)
    by_split = {s: {it.group for it in ds.items if it.split == s} for s in ("train", "val", "test")}
    assert by_split == {"train": set(SC_SPEAKERS[:4]), "val": {SC_SPEAKERS[4]}, "test": {SC_SPEAKERS[5]}}
    assert leaks(ds) == {}
    assert split(ds).splits() == ds.splits()  # keep_existing keeps the official lists


def test_speech_commands_words_and_unknown(tmp_path, make_wav):
    root = build_speech_commands(tmp_path / "sc", make_wav)
    assert index(root, words=["yes", "no"]).labels == ["no", "yes"]
    ds = index(root, words=["yes", "no"], unknown="_unknown_")
    assert ds.labels == ["_unknown_", "no", "yes"] and ds.counts()["_unknown_"] == 12
    with pytest.raises(DatasetError, match="'maybe' not found"):
        index(root, words=["maybe"])


def test_speech_commands_list_names_missing_file(tmp_path, make_wav):
    root = build_speech_commands(tmp_path / "sc", make_wav)
    with open(root / "testing_list.txt", "a") as fh:
        fh.write("\nleft/deadbeef_nohash_0.wav\n")
    with pytest.raises(DatasetError) as ei:
        index(root)
    msg = str(ei.value)
    assert "testing_list.txt" in msg and "line 8" in msg and "left/deadbeef_nohash_0.wav" in msg


def test_fsdd(tmp_path, make_wav):
    root = build_fsdd(tmp_path / "fsdd", make_wav)
    ds = index(root)
    assert ds.labels == ["0", "1", "2"] and ds.groups() == FSDD_SPEAKERS
    assert all(Path(it.path).name.split("_")[1] == it.group for it in ds.items)
    assert all(it.split is None for it in ds.items)
    off = index(root / "recordings", official_split=True)  # the flat folder works too
    assert off.splits() == {"train": 12, "test": 12}
    assert any("keep_existing=False" in w for w in split(off).warnings)  # no val and nothing left to carve


def test_esc50(tmp_path, make_wav):
    root = build_esc50(tmp_path / "esc", make_wav)
    ds = index(root)
    assert ds.labels == ["dog", "rain"]
    for it in ds.items:
        f = it.extra["fold"]
        assert it.split == {5: "test", 4: "val"}.get(f, "train")
        assert it.group == f"{100 + f * 10 + (it.label == 'rain')}"
    assert len(ds.groups()) == 10 and leaks(ds) == {}
    ds2 = index(root, test_fold=1, val_fold=None)
    assert {it.split for it in ds2.items} == {"test", None}
    s = split(ds2, val=0.25, seed=3)
    assert s.subset("test").items == ds2.subset("test").items  # kept
    assert s.splits()["val"] > 0 and leaks(s) == {}
    with pytest.raises(DatasetError, match="found only 'dog'"):  # the ESC-10 subset here is dog only
        index(root, esc10=True)
    with pytest.raises(DatasetError, match="test_fold=9"):
        index(root, test_fold=9)


def test_gtzan_variants(tmp_path, make_wav):
    ds = index(build_gtzan(tmp_path / "g1", make_wav))
    assert ds.layout == "gtzan" and ds.labels == ["blues", "jazz", "rock"]
    assert all(it.group == it.path for it in ds.items)
    from auricle.datasets.layouts import GTZAN_GENRES
    flat = build_gtzan(tmp_path / "g2", make_wav, genres=GTZAN_GENRES, sub=None)
    assert detect_layout(flat) == "gtzan"
    partial = build_gtzan(tmp_path / "g3", make_wav, genres=("blues", "rock"), sub=None)
    assert detect_layout(partial) == "folder"  # 2 genre-named folders alone are just a folder dataset


def test_cremad(tmp_path, make_wav):
    root = build_cremad(tmp_path / "crema", make_wav)
    _wav(make_wav, root / "AudioWAV" / "1005_DFA_XYZ_XX.wav")  # unknown emotion code
    ds = index(root)
    assert ds.labels == ["anger", "happy", "neutral"]
    assert ds.groups() == ["1001", "1002", "1003", "1004"]
    assert ds.items[0].extra == {"sentence": "DFA", "level": "XX"}
    assert any("1005_DFA_XYZ_XX.wav" in w for w in ds.warnings)


def test_manifest(tmp_path, make_wav):
    root = build_manifest(tmp_path / "m", make_wav)
    for r in (root, root / "manifest.csv"):
        ds = index(r)
        assert ds.layout == "manifest" and ds.labels == ["hi", "lo"]
        assert ds.groups() == ["g0", "g1", "g2", "g3"]
        assert ds.splits() == {"test": 2, "unassigned": 6}
        assert ds.items[0].extra == {"note": "n0"} and Path(ds.items[0].path).is_absolute()
    s = split(ds, val=0.3, test=0.3, seed=1)
    assert s.splits()["test"] == 2 and leaks(s) == {}  # the CSV's test rows are kept, test not refilled


def test_manifest_missing_files_and_bad_values(tmp_path, make_wav):
    root = build_manifest(tmp_path / "m", make_wav)
    with open(root / "manifest.csv", "a", newline="") as fh:
        w = csv.writer(fh)
        for i in range(7):
            w.writerow([f"gone/{i}.wav", "lo", "", "", ""])
    with pytest.raises(DatasetError) as ei:
        index(root)
    msg = str(ei.value)
    assert "7 file(s)" in msg and "line 10: gone/0.wav" in msg and "and 2 more" in msg
    bad = tmp_path / "bad.csv"
    bad.write_text(f"path,label,split\n{root}/clips/lo_0.wav,lo,holdout\n")
    with pytest.raises(DatasetError, match="line 2: unknown split 'holdout'"):
        index(bad)
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("file,class\na.wav,x\n")
    with pytest.raises(DatasetError, match="lacks column"):
        index(nocol)


# --------------------------------------------------------------------------- index errors

def test_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="dataset folder not found.*Fix:"):
        index(tmp_path / "nope")


def test_empty_dataset_lists_extensions(tmp_path):
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "readme.txt").write_text("x")
    with pytest.raises(DatasetError) as ei:
        index(tmp_path)
    assert "no audio files" in str(ei.value) and ".wav" in str(ei.value) and ".flac" in str(ei.value)


def test_one_class(tmp_path, make_wav):
    build_folder(tmp_path, make_wav, classes=("cat",))
    with pytest.raises(DatasetError, match="need at least 2 classes, found only 'cat' in"):
        index(tmp_path)
    assert index(tmp_path, min_classes=1).labels == ["cat"]  # e.g. a one-class evaluation set


def test_unknown_layout_and_option(tmp_path, make_wav):
    build_folder(tmp_path, make_wav)
    with pytest.raises(DatasetError, match="unknown layout 'nope'.*speech_commands"):
        index(tmp_path, layout="nope")
    with pytest.raises(DatasetError, match="unknown option.*'test_fold'.*group_regex"):
        index(tmp_path, layout="folder", test_fold=3)
    with pytest.raises(DatasetError, match="got a file"):
        index(tmp_path / "cat" / "spk0_cat_0.wav")


def test_check_audio_skips_or_raises(tmp_path, make_wav):
    build_folder(tmp_path, make_wav)
    (tmp_path / "dog" / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wav")
    (tmp_path / "dog" / "empty.wav").write_bytes(b"")
    assert len(index(tmp_path)) == 8  # headers are not read by default
    ds = index(tmp_path, check_audio=True)
    assert len(ds) == 6
    assert any("skipped 2 unreadable" in w and "broken.wav" in w for w in ds.warnings)
    with pytest.raises(DatasetError, match="broken.wav|empty.wav"):
        index(tmp_path, check_audio=True, strict=True)


def test_register_custom_layout(tmp_path, make_wav):
    @register_layout("test_pairs", detect=lambda root: (root / "PAIRS").is_file(), structure="ROOT/PAIRS + ROOT/*.wav")
    def pairs(root, *, sep="__"):
        """label__speaker.wav"""
        return [Item(str(p), p.stem.split(sep)[0], p.stem.split(sep)[1]) for p in sorted(root.glob("*.wav"))]
    try:
        (tmp_path / "PAIRS").write_text("")
        for name in ("a__x", "b__x", "a__y"):
            _wav(make_wav, tmp_path / f"{name}.wav")
        ds = index(tmp_path)
        assert ds.layout == "test_pairs" and ds.groups() == ["x", "y"]
    finally:
        LAYOUTS.pop("test_pairs")


# --------------------------------------------------------------------------- splitting

def test_split_group_disjoint_for_many_seeds():
    items = synthetic_items()
    for seed in range(40):
        ds = split(items, val=0.15, test=0.15, seed=seed)
        assert leaks(ds) == {}
        got = Counter(it.split for it in ds.items)
        assert set(got) == {"train", "val", "test"} and sum(got.values()) == len(items)
        # sizes near target: each split within 10 points of its share
        n = len(items)
        assert abs(got["test"] / n - 0.15) < 0.1 and abs(got["val"] / n - 0.15) < 0.1
    assert items[0].split is None  # input not mutated


def test_split_deterministic_and_seed_dependent():
    items = synthetic_items()
    a = [it.split for it in split(items, seed=7).items]
    assert a == [it.split for it in split(items, seed=7).items]
    assert any(a != [it.split for it in split(items, seed=s).items] for s in range(8, 12))


def test_split_is_stratified():
    # 100 groups of 2 same-label items, 70/30 label mix
    items = [Item(f"/x/{g}_{k}.wav", "maj" if g < 70 else "min", f"g{g}") for g in range(100) for k in range(2)]
    for seed in range(5):
        ds = split(items, val=0.2, test=0.2, seed=seed)
        for s in ("train", "val", "test"):
            c = ds.counts(s)
            assert abs(c["min"] / sum(c.values()) - 0.3) < 0.06, (seed, s, c)
        assert abs(len(ds.subset("test")) - 40) <= 4


def test_split_small_groups_every_split_nonempty():
    items = [Item(f"/x/{g}_{k}.wav", "ab"[k % 2], g) for g in "pqr" for k in range(4)]
    for seed in range(10):
        ds = split(items, seed=seed)
        assert leaks(ds) == {} and {it.split for it in ds.items} == {"train", "val", "test"}


def test_split_explicit_groups(tmp_path, make_wav):
    ds = index(build_fsdd(tmp_path / "fsdd", make_wav))
    s = split(ds, test_groups=["jackson"], val_groups=["lucas"])
    assert {it.group for it in s.subset("test").items} == {"jackson"}
    assert {it.group for it in s.subset("val").items} == {"lucas"}
    assert {it.group for it in s.subset("train").items} == {"george", "nicolas"}
    s2 = split(ds, test_groups="jackson", val=0.3, seed=0)  # val carved from the other speakers
    assert {it.group for it in s2.subset("test").items} == {"jackson"}
    assert len(s2.subset("val")) > 0 and leaks(s2) == {}
    with pytest.raises(DatasetError, match="unknown group.*'bob'.*available groups: george, jackson"):
        split(ds, test_groups=["bob"])
    with pytest.raises(DatasetError, match="both"):
        split(ds, test_groups=["lucas"], val_groups=["lucas"])


def test_split_keep_existing_false_and_bad_args(tmp_path, make_wav):
    ds = index(build_speech_commands(tmp_path / "sc", make_wav))
    resplit = [split(ds, keep_existing=False, seed=seed) for seed in range(3)]
    assert all(leaks(s) == {} for s in resplit)
    assert any([it.split for it in s.items] != [it.split for it in ds.items] for s in resplit)
    with pytest.raises(DatasetError, match="val \\+ test"):
        split(ds, val=0.5, test=0.5)
    with pytest.raises(DatasetError, match="by="):
        split(ds, by="speaker")


def test_split_item_level_and_single_group_warn():
    items = synthetic_items(n_groups=10)
    s = split(items, by="item", seed=0)
    assert any("by='item'" in w for w in s.warnings) and len(s.subset("test")) > 0
    one = [Item(f"/x/{i}.wav", "ab"[i % 2], "only") for i in range(20)]
    s = split(one, seed=0)
    assert any("only one group" in w for w in s.warnings)
    assert {it.split for it in s.items} == {"train", "val", "test"}


def test_leaks_detected():
    items = [Item("/a.wav", "x", "g1", "train"), Item("/b.wav", "y", "g1", "test"), Item("/c.wav", "x", "g2", "test")]
    assert leaks(items) == {"g1": {"train", "test"}}


def test_dataset_helpers_and_manifest_roundtrip(tmp_path, make_wav):
    ds = split(index(build_cremad(tmp_path / "c", make_wav)), seed=0)
    assert sum(ds.counts("train").values()) == len(ds.subset("train"))
    assert ds.subset("val").labels == ds.labels
    with pytest.raises(DatasetError, match="unknown split"):
        ds.subset("holdout")
    back = index(ds.to_manifest(tmp_path / "frozen.csv"))
    assert [(it.path, it.label, it.group, it.split) for it in back.items] == \
           [(it.path, it.label, it.group, it.split) for it in ds.items]
    assert back.items[0].extra == {"sentence": "DFA", "level": "XX"}


# --------------------------------------------------------------------------- audit

def test_audit_finds_problems(tmp_path, make_wav):
    root = build_folder(tmp_path / "d", make_wav, per_class=4)
    shutil.copy(root / "cat" / "spk0_cat_0.wav", root / "dog" / "copy.wav")  # duplicate, label conflict
    make_wav(root / "dog" / "silent.wav", sr=8000, seconds=0.1, amplitude=0.0)
    make_wav(root / "cat" / "quiet.wav", sr=16000, seconds=0.2, freq=300.0, amplitude=1e-4)  # -80 dBFS
    (root / "cat" / "corrupt.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    ds = index(root, group_regex=r"^(spk\d)_")
    ds = split(ds, seed=0)
    victim = next(it for it in ds.items if it.group == "spk0")
    victim.split = "test" if victim.split != "test" else "train"  # force a leak
    rep = audit(ds, progress=False)
    assert rep.n_items == len(ds) == 12
    assert [Path(p).name for p, _ in rep.unreadable] == ["corrupt.wav"]
    assert sorted(Path(p).name for p, _ in rep.silent) == ["quiet.wav", "silent.wav"]
    assert len(rep.duplicates) == 1 and rep.duplicates[0].label_conflict
    assert sorted(Path(p).name for p in rep.duplicates[0].paths) == ["copy.wav", "spk0_cat_0.wav"]
    assert list(rep.leaks) == ["spk0"]
    assert rep.samplerates == {8000: 10, 16000: 1} and rep.channels == {1: 11}
    assert rep.durations["max"] == pytest.approx(0.2) and rep.durations_by_class["cat"]["count"] == 5
    assert sum(sum(c.values()) for c in rep.counts.values()) == 12
    assert not rep.ok
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["silent"][1]["peak_db"] is None or d["silent"][0]["peak_db"] is None  # all-zero file
    from rich.console import Console
    buf = io.StringIO()
    rep.render(Console(file=buf, width=140))
    out = buf.getvalue()
    for word in ("Class counts", "Durations", "Unreadable", "Silent", "Duplicate", "more than one split"):
        assert word in out


def test_audit_clean_dataset(tmp_path, make_wav):
    rep = audit(index(build_fsdd(tmp_path / "f", make_wav)), progress=False)
    assert rep.ok and rep.counts == {"unassigned": {"0": 8, "1": 8, "2": 8}}


# --------------------------------------------------------------------------- extra training data, synthetic voices

def _folder_set(root, labels, groups, sr=16000, seed=0):
    import soundfile as sf
    rng = np.random.default_rng(seed)
    for lab in labels:
        (root / lab).mkdir(parents=True, exist_ok=True)
        for g in groups:
            sf.write(root / lab / f"{g}_0.wav", (0.1 * rng.standard_normal(sr // 4)).astype("float32"), sr)
    return root


def test_extra_train_joins_the_training_split_only(tmp_path):
    from auricle.config import DataConfig
    from auricle.data import load_dataset

    main = _folder_set(tmp_path / "main", ["a", "b"], [f"s{i}" for i in range(8)])
    extra = _folder_set(tmp_path / "extra", ["a", "b"], ["v1", "v2", "v3"])
    base = load_dataset(DataConfig(root=str(main), layout="folder", val=0.25, test=0.25), progress=False)
    ds = load_dataset(DataConfig(root=str(main), layout="folder", val=0.25, test=0.25, extra_train=[str(extra)]),
                      progress=False)
    for split in ("val", "test"):  # untouched
        assert sorted(it.path for it in ds.items if it.split == split) == \
            sorted(it.path for it in base.items if it.split == split)
    added = [it for it in ds.items if str(extra) in str(it.path)]
    assert len(added) == 6 and all(it.split == "train" for it in added)
    assert all(it.group.startswith("extra:") for it in added)
    assert ds.labels == ["a", "b"]


def test_extra_train_with_a_foreign_label_names_it(tmp_path):
    from auricle.config import DataConfig
    from auricle.data import load_dataset

    main = _folder_set(tmp_path / "main", ["a", "b"], [f"s{i}" for i in range(4)])
    extra = _folder_set(tmp_path / "extra", ["a", "zzz"], ["v1"])
    with pytest.raises(DatasetError, match="zzz"):
        load_dataset(DataConfig(root=str(main), layout="folder", extra_train=[str(extra)]), progress=False)


def test_spoken_text_and_voice_choice(monkeypatch):
    from auricle.datasets import synth
    from auricle.errors import AuricleError

    assert [synth.spoken_text(x) for x in ("0", "9", "yes", "turn_on", "_silence_")] == \
        ["zero", "nine", "yes", "turn on", None]
    vs = synth.voices(50, seed=1, engines=["espeak-ng", "flite"])
    assert len({v.group for v in vs}) == 50 and vs[0].engine == "flite"
    assert [v.group for v in synth.voices(50, seed=1, engines=["espeak-ng", "flite"])] == [v.group for v in vs]
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    with pytest.raises(AuricleError, match="apt-get install espeak-ng"):
        synth.voices(3)


@pytest.mark.skipif(not __import__("shutil").which("espeak-ng"), reason="espeak-ng is not installed")
def test_synthesize_writes_an_indexable_voice_disjoint_set(tmp_path):
    import soundfile as sf

    from auricle import datasets
    from auricle.datasets.synth import synthesize

    m = synthesize(["3", "go"], tmp_path / "s", n_voices=3, per_voice=2, sr=8000, progress=False)
    ds = datasets.index(m)
    assert ds.labels == ["3", "go"] and len(ds.items) == 12 and len(ds.groups()) == 3
    info = sf.info(str(ds.items[0].path))
    assert info.samplerate == 8000 and 0.1 < info.duration < 1.5
    with pytest.raises(Exception, match="overwrite"):
        synthesize(["3"], tmp_path / "s", n_voices=1, progress=False)
