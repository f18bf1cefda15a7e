"""Streaming commands: ``auricle stream`` (detection on a file or the microphone) and ``auricle detect-eval``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from auricle.cli._app import Fmt, app, console, err_console, friendly
from auricle.errors import AuricleError, ConfigError


def _print_events(events, fmt: Fmt, extra: dict) -> None:
    from auricle.streaming.detector import events_csv, events_json

    if fmt == Fmt.json:
        print(events_json(events, **extra))
    elif fmt == Fmt.csv:
        print(events_csv(events), end="")
    else:
        from rich.table import Table

        t = Table(title=f"{len(events)} event(s)")
        for c in ("label", "start (s)", "end (s)", "score", "peak (s)"):
            t.add_column(c)
        for e in events:
            t.add_row(e.label, f"{e.start:.2f}", f"{e.end:.2f}", f"{e.score:.3f}", f"{e.peak:.2f}")
        console.print(t)


def _list_devices() -> str:
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise AuricleError(f"the microphone needs sounddevice and PortAudio ({exc})",
                           fix="pip install sounddevice; on Linux also apt-get install libportaudio2") from None
    try:
        devs = sd.query_devices()
    except Exception as exc:  # PortAudio errors
        return f"(could not list devices: {exc})"
    rows = [f"{i}: {d['name']} ({d['max_input_channels']} in)" for i, d in enumerate(devs)
            if d.get("max_input_channels", 0) > 0]
    return "; ".join(rows) if rows else "none"


@app.command("stream")
@friendly
def stream(
    run: Path = typer.Argument(..., help="Run directory (or a --streaming export folder with --runtime onnx/tflite)."),
    file: Optional[Path] = typer.Argument(None, help="Audio file to stream (omit with --mic)."),
    mic: bool = typer.Option(False, "--mic", help="Listen to the microphone instead of a file."),
    device: Optional[str] = typer.Option(None, help="Input device (index or name) for --mic."),
    seconds: Optional[float] = typer.Option(None, help="Stop the microphone after this many seconds."),
    runtime: str = typer.Option("keras", help="keras (run directory), onnx or tflite (exported step model)."),
    mode: str = typer.Option("auto", help="Step model: auto, incremental or window (keras runtime)."),
    packet_ms: float = typer.Option(20.0, help="Packet size in milliseconds."),
    threshold: float = typer.Option(0.7, help="Smoothed posterior that fires an event."),
    smooth: float = typer.Option(0.2, help="Seconds of posteriors averaged."),
    refractory: float = typer.Option(1.0, help="Seconds after an event with no new event."),
    ignore: Optional[str] = typer.Option(None, help="Comma-separated labels that never fire (default: silence/unknown/background)."),
    reset_every: Optional[float] = typer.Option(None, help="Seconds between state resets of recurrent models (default: one training clip)."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", "-f", help="table, json or csv."),
    plot: Optional[Path] = typer.Option(None, help="Write a PNG of the score traces over the waveform."),
    list_devices: bool = typer.Option(False, "--list-devices", help="List input devices and exit."),
):
    """Detect keywords/classes in a long recording or the microphone, packet by packet (events: label, start, end, score)."""
    if list_devices:
        console.print(_list_devices())
        return
    if (file is None) == (not mic):
        raise ConfigError("give an audio FILE or --mic (not both)", fix="auricle stream RUN rec.wav, or auricle stream RUN --mic")
    from auricle.streaming.detector import DEFAULT_IGNORE, Detector, DetectorConfig, open_stream

    clf, labels, info = open_stream(run, runtime=runtime, mode=mode,
                                    reset_every="auto" if reset_every is None else None, reset_seconds=reset_every)
    ign = tuple(s.strip() for s in ignore.split(",")) if ignore else DEFAULT_IGNORE
    dcfg = DetectorConfig(threshold=threshold, smooth=smooth, refractory=refractory, ignore=ign)
    det = Detector(labels, clf.step_seconds, dcfg)
    sr = clf.fe.sr
    packet = max(1, int(round(packet_ms * sr / 1000)))
    if not info["features_exact"]:
        err_console.print(f"[yellow]note: streaming features approximate the offline ones: {info['features_note']}[/yellow]")
    if mic:
        _mic_loop(clf, det, sr, packet, device, seconds, fmt)
        return
    from auricle.audio import load
    from auricle.streaming.detector import plot_scores, run_stream

    y = load(file, sr=sr)
    res = run_stream(clf, det, y, packet=packet)
    extra = {"file": str(file), "seconds": round(len(y) / sr, 3), "threshold": threshold, "smooth": smooth,
             "refractory": refractory, **info, "ms_per_packet": round(res["ms_per_packet"], 4),
             "packet_ms": packet_ms, "nonfinite_samples": clf.fe.stats.get("nonfinite", 0)}
    _print_events(res["events"], fmt, extra)
    if fmt == Fmt.table:
        err_console.print(f"{len(y) / sr:.1f} s in {res['packets']} packets of {packet_ms:g} ms: "
                          f"{res['ms_per_packet']:.3f} ms per packet ({info['runtime']}, {info['mode']} step model)")
    if plot:
        plot_scores(plot, y, sr, res["times"], res["scores"], labels, threshold=threshold, events=res["events"],
                    ignore=ign, title=f"{file.name}: {len(res['events'])} event(s)")
        err_console.print(f"plot: {plot}")


def _mic_loop(clf, det, sr, packet, device, seconds, fmt):
    import queue
    import time

    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise AuricleError(f"the microphone needs sounddevice and PortAudio ({exc})",
                           fix="pip install sounddevice; on Linux also apt-get install libportaudio2") from None
    dev = int(device) if device is not None and str(device).isdigit() else device
    try:
        info = sd.query_devices(dev, "input")
    except Exception as exc:
        raise AuricleError(f"no usable input device {device if device is not None else '(default)'}: {exc}",
                           fix=f"pick one with --device; input devices: {_list_devices()}") from None
    q: queue.Queue = queue.Queue()
    dropped = [0]

    def callback(indata, frames, t, status):
        if status:
            dropped[0] += 1
        q.put(indata[:, 0].copy())

    native = int(info.get("default_samplerate") or sr)
    rate = sr
    try:
        sd.check_input_settings(device=dev, samplerate=sr, channels=1, dtype="float32")
    except Exception:
        rate = native  # the device cannot record at the model's rate: resample in the front end
    if rate != sr:
        from auricle.streaming.frontend import StreamingFrontend

        clf.fe = StreamingFrontend(clf.fe.cfg, input_sr=rate)
    blocksize = max(1, int(round(packet * rate / sr)))
    err_console.print(f"listening on {info['name']} at {rate} Hz; Ctrl-C to stop")
    t_end = time.time() + seconds if seconds else None
    try:
        with sd.InputStream(device=dev, channels=1, samplerate=rate, blocksize=blocksize, dtype="float32",
                            callback=callback):
            while t_end is None or time.time() < t_end:
                try:
                    x = q.get(timeout=0.5)
                except queue.Empty:
                    continue
                try:
                    times, probs = clf.push(x)
                except AuricleError as exc:
                    err_console.print(f"[yellow]packet skipped: {exc}[/yellow]")
                    continue
                for tj, pj in zip(times, probs):
                    n_before = len(det.events)
                    det.update(float(tj), pj)
                    for e in det.events[n_before:]:
                        if fmt == Fmt.json:
                            print(json.dumps(e.to_dict()), flush=True)
                        elif fmt == Fmt.csv:
                            print(f"{e.label},{e.start:.3f},{e.end:.3f},{e.score:.4f},{e.peak:.3f}", flush=True)
                        else:
                            console.print(f"[bold green]{e.label}[/bold green] at {e.start:.2f} s (score {e.score:.2f})")
    except KeyboardInterrupt:
        pass
    except sd.PortAudioError as exc:
        raise AuricleError(f"the microphone stream failed: {exc}",
                           fix=f"check the device; input devices: {_list_devices()}") from None
    if dropped[0]:
        err_console.print(f"[yellow]{dropped[0]} audio callback(s) reported over/underflow[/yellow]")


@app.command("detect-eval")
@friendly
def detect_eval(
    run: Path = typer.Argument(..., help="Run directory (or a --streaming export folder with --runtime onnx/tflite)."),
    recording: Optional[Path] = typer.Option(None, help="A long recording to evaluate on instead of a synthetic stream."),
    labels_file: Optional[Path] = typer.Option(None, "--labels", help="CSV/TSV label,start,end of the keywords in --recording."),
    hours: float = typer.Option(0.1, help="Length of the synthetic stream (hours)."),
    per_minute: float = typer.Option(10.0, help="Keywords placed per minute in the synthetic stream."),
    snr: float = typer.Option(20.0, help="Keyword-to-noise ratio (dB) of the synthetic stream."),
    noise: Optional[Path] = typer.Option(None, help="Background noise file/folder (default: generated pink noise)."),
    runtime: str = typer.Option("keras", help="keras, onnx or tflite."),
    mode: str = typer.Option("auto", help="Step model: auto, incremental or window."),
    threshold: float = typer.Option(0.7, help="Operating threshold to report."),
    smooth: float = typer.Option(0.2, help="Seconds of posteriors averaged."),
    refractory: float = typer.Option(1.0, help="Seconds after an event with no new event."),
    seed: int = typer.Option(0, help="Seed of the synthetic stream."),
    out: Optional[Path] = typer.Option(None, help="Folder for detect_eval.json/.csv and the curve PNG (default RUN/detect_eval)."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", "-f", help="table, json or csv."),
):
    """False rejects and false accepts per hour across thresholds, on a synthetic keyword stream or a labelled recording."""
    from auricle.streaming.evaluate import evaluate_detection

    rep = evaluate_detection(run, recording=recording, labels_file=labels_file, hours=hours, per_minute=per_minute,
                             snr_db=snr, noise=noise, runtime=runtime, mode=mode, threshold=threshold,
                             smooth=smooth, refractory=refractory, seed=seed, out=out, console=err_console)
    if fmt == Fmt.json:
        print(json.dumps(rep, indent=1))
        return
    if fmt == Fmt.csv:
        print("threshold,false_reject_rate,false_accepts_per_hour,hits,misses,false_accepts")
        for r in rep["curve"]:
            print(f"{r['threshold']:.3f},{r['false_reject_rate']:.4f},{r['false_accepts_per_hour']:.2f},"
                  f"{r['hits']},{r['misses']},{r['false_accepts']}")
        return
    from rich.table import Table

    t = Table(title=f"{rep['keywords']} keywords in {rep['hours']:.2f} h ({rep['source']})")
    for c in ("threshold", "false rejects", "FR rate", "false accepts", "FA / hour"):
        t.add_column(c)
    for r in rep["curve"]:
        mark = " <" if abs(r["threshold"] - threshold) < 1e-9 else ""
        t.add_row(f"{r['threshold']:.2f}{mark}", str(r["misses"]), f"{r['false_reject_rate']:.1%}",
                  str(r["false_accepts"]), f"{r['false_accepts_per_hour']:.1f}")
    console.print(t)
    op = rep["operating_point"]
    console.print(f"at threshold {threshold:g}: {op['false_reject_rate']:.1%} false rejects, "
                  f"{op['false_accepts_per_hour']:.1f} false accepts per hour; curve: {rep['files']['curve']}")
