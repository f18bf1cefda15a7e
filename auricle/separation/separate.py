"""Separate a mixture of any length into stems: chunked, overlap-added, memory flat in its length.

A song is read in blocks, resampled to the model's rate as a stream, cut into chunks of one
U-Net patch (``frames`` STFT frames) that overlap by ``overlap`` seconds, and each batch of
chunks goes STFT -> network -> masks -> inverse STFT.  Neighbouring chunks are cross-faded
linearly over the overlap (the weights sum to one, so stems still add up to the mixture), and
finished samples are written out as soon as no later chunk can change them.  Memory therefore
depends on the chunk and batch size, never on the song's length.

The network runs in Keras (``runtime="keras"``) or as the run's ONNX / TFLite export without
TensorFlow (``runtime="onnx"`` / ``"tflite"``; ``"auto"`` takes the ONNX export when present).

Examples
--------
>>> import numpy as np
>>> from auricle.separation.separate import chunk_starts
>>> chunk_starts(10_000, chunk=4_000, step=3_000)
[0, 3000, 6000]
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from auricle.errors import AudioError, ConfigError, RunError
from auricle.separation.masks import MASK_MODES, apply_masks
from auricle.separation.presets import SeparationPreset
from auricle.separation.stft import istft, stft

CODECS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS"),
          "mp3": ("MP3", "MPEG_LAYER_III")}
RUNTIMES = ("auto", "keras", "onnx", "tflite")
SEPARATION_META = "separation.json"


def chunk_starts(n: int, *, chunk: int, step: int) -> list[int]:
    """Start samples of the chunks that cover ``n`` samples (the last may run past the end)."""
    starts = [0]
    while starts[-1] + chunk < n:
        starts.append(starts[-1] + step)
    return starts


# ----------------------------------------------------------------------------------------------
# the network, in Keras or an export


class _KerasNet:
    def __init__(self, model):
        self.model = model

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(x.astype(np.float32)))


class _OnnxNet:
    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        self.sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.name = self.sess.get_inputs()[0].name
        self.batch = self.sess.get_inputs()[0].shape[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32)
        if isinstance(self.batch, int) and self.batch != x.shape[0]:
            return np.concatenate([self.sess.run(None, {self.name: x[i:i + 1]})[0] for i in range(len(x))])
        return self.sess.run(None, {self.name: x})[0]


class _TfliteNet:
    def __init__(self, path: Path, threads: int):
        from ai_edge_litert.interpreter import Interpreter

        self.it = Interpreter(model_path=str(path), num_threads=threads)
        self.it.allocate_tensors()
        self.inp = self.it.get_input_details()[0]["index"]
        self.out = self.it.get_output_details()[0]["index"]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        outs = []
        for i in range(len(x)):
            self.it.set_tensor(self.inp, x[i:i + 1].astype(np.float32))
            self.it.invoke()
            outs.append(self.it.get_tensor(self.out).copy())
        return np.concatenate(outs)


# ----------------------------------------------------------------------------------------------


class Separator:
    """A trained separator: a preset, a network and a way to combine masks.

    Parameters
    ----------
    preset : SeparationPreset
        Stems, sample rate, STFT and patch size.
    net : callable
        ``(batch, frames, bins, channels) -> (batch, frames, bins, channels, stems)`` estimates.
    mask : {"ratio", "wiener"}
        How masks are combined across stems (:mod:`auricle.separation.masks`).
    overlap : float
        Seconds of cross-fade between neighbouring chunks.
    batch : int
        Chunks per network call.
    chunk_frames : int, optional
        STFT frames per chunk (default: the preset's patch).
    """

    def __init__(self, preset: SeparationPreset, net: Callable, *, mask: str = "ratio",
                 overlap: float = 1.0, batch: int = 2, chunk_frames: int | None = None,
                 runtime: str = "keras"):
        if mask not in MASK_MODES:
            raise ConfigError(f"unknown mask mode {mask!r}", fix=f"use one of {', '.join(MASK_MODES)}")
        self.preset = preset
        self.net = net
        self.mask = mask
        self.batch = max(1, int(batch))
        self.runtime = runtime
        frames = int(chunk_frames or preset.frames)
        self.chunk = (frames - 1) * preset.hop           # samples whose STFT has exactly `frames` frames
        self.overlap = min(int(round(overlap * preset.sr)), self.chunk // 2)
        self.step = self.chunk - self.overlap

    @property
    def stems(self) -> tuple[str, ...]:
        return self.preset.stems

    @property
    def sr(self) -> int:
        return self.preset.sr

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, run_dir, *, runtime: str = "auto", mask: str | None = None, threads: int | None = None,
             **kwargs) -> "Separator":
        """The separator of a run directory written by ``auricle separate-train``.

        ``runtime="auto"`` uses the run's ONNX export when there is one (no TensorFlow import),
        else the Keras model.
        """
        run_dir = Path(run_dir)
        meta = read_meta(run_dir)
        preset = SeparationPreset.from_dict(meta["preset"])
        if runtime not in RUNTIMES:
            raise ConfigError(f"unknown runtime {runtime!r}", fix=f"use one of {', '.join(RUNTIMES)}")
        threads = threads or os.cpu_count() or 1
        onnx_file = run_dir / "export" / "onnx" / "separator.onnx"
        tfl_file = run_dir / "export" / "tflite" / "separator.tflite"
        if runtime == "auto":
            runtime = "onnx" if onnx_file.exists() else "keras"
        if runtime == "onnx":
            if not onnx_file.exists():
                raise RunError("the run has no ONNX export", path=run_dir,
                               fix=f"run `auricle export {run_dir}` first, or use --runtime keras")
            net = _OnnxNet(onnx_file, threads)
        elif runtime == "tflite":
            if not tfl_file.exists():
                raise RunError("the run has no TFLite export", path=run_dir,
                               fix=f"run `auricle export {run_dir} --format tflite` first")
            net = _TfliteNet(tfl_file, threads)
        else:
            from auricle.backend import quiet_keras

            quiet_keras()
            import keras

            model_file = run_dir / "model.keras"
            if not model_file.exists():
                raise RunError("the run has no model.keras (training did not finish?)", path=run_dir,
                               fix="finish or resume training: auricle separate-train --resume RUN")
            net = _KerasNet(keras.saving.load_model(str(model_file)))
        return cls(preset, net, mask=mask or meta.get("mask", "ratio"), runtime=runtime, **kwargs)

    # -- arrays --------------------------------------------------------------------------------

    def _features(self, chunks: np.ndarray):
        """``(B, C, chunk)`` -> mixture STFTs ``(B, C, T, F)`` and network input ``(B, T, bins, C)``."""
        p = self.preset
        X = stft(chunks, n_fft=p.n_fft, hop=p.hop)
        mag = np.abs(X[..., : p.bins]).transpose(0, 2, 3, 1)
        return X, mag

    def _separate_chunks(self, chunks: np.ndarray) -> np.ndarray:
        """``(B, C, chunk)`` model-rate audio -> ``(B, S, C, chunk)`` stems."""
        p = self.preset
        X, mag = self._features(chunks)
        v = self.net(mag)
        out = np.empty((len(chunks), len(p.stems)) + chunks.shape[1:], dtype=np.float32)
        for b in range(len(chunks)):
            Y = apply_masks(X[b], v[b], mode=self.mask)
            out[b] = istft(Y, n_fft=p.n_fft, hop=p.hop, length=chunks.shape[-1])
        return out

    def iter_separate(self, blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        """Separate a stream of ``(C, n)`` model-rate blocks; yields ``(S, C, n)`` finished stems.

        Memory holds one batch of chunks plus one overlap, whatever the stream's length.
        """
        C = self.preset.channels
        buf = np.zeros((C, 0), dtype=np.float32)
        pending = None                    # faded-out tail of the previous chunk (S, C, overlap)
        ramp = (np.arange(self.overlap, dtype=np.float32) + 0.5) / max(self.overlap, 1)
        blocks = iter(blocks)
        exhausted = False
        need = self.chunk + (self.batch - 1) * self.step + 1
        while True:
            parts = [buf]
            have = buf.shape[1]
            while not exhausted and have < need:
                try:
                    blk = np.asarray(next(blocks), dtype=np.float32)
                except StopIteration:
                    exhausted = True
                    break
                parts.append(blk)
                have += blk.shape[1]
            buf = np.concatenate(parts, axis=1) if len(parts) > 1 else buf
            n = buf.shape[1]
            if n == 0:
                return
            # a chunk is known not to be the last only when audio follows it
            starts: list[tuple[int, bool]] = []
            s = 0
            while len(starts) < self.batch:
                if s + self.chunk < n:
                    starts.append((s, False))
                    s += self.step
                elif exhausted:
                    starts.append((s, True))
                    break
                else:
                    break
            if not starts:
                continue
            pieces = [buf[:, s:s + self.chunk] for s, _ in starts]
            pieces = [np.pad(p, ((0, 0), (0, self.chunk - p.shape[1]))) for p in pieces]
            outs = self._separate_chunks(np.stack(pieces))
            for (s, last), o in zip(starts, outs):
                if pending is not None and self.overlap:
                    o[..., : self.overlap] = o[..., : self.overlap] * ramp + pending
                if last:
                    yield o[..., : n - s]
                    return
                pending = o[..., self.step:] * ramp[::-1]
                yield o[..., : self.step]
            buf = buf[:, starts[-1][0] + self.step:]

    def separate(self, y: np.ndarray, sr: int | None = None) -> dict[str, np.ndarray]:
        """Separate a waveform into stems.

        Parameters
        ----------
        y : ndarray
            ``(samples,)`` mono or ``(channels, samples)`` with 1 or 2 channels.
        sr : int, optional
            Its sample rate (default: the preset's); resampled to the preset's rate.

        Returns
        -------
        dict
            ``{stem: (channels, samples)}`` at the preset's rate, as many channels as ``y`` had.
        """
        y = np.asarray(y, dtype=np.float32)
        mono = y.ndim == 1
        y2 = y[None] if mono else y
        if y2.ndim != 2 or y2.shape[0] > 2:
            raise AudioError(f"expected mono or stereo audio, got an array of shape {y.shape}",
                             fix="pass (samples,) or (channels, samples) with 1 or 2 channels")
        if sr is not None and sr != self.sr:
            from auricle.audio import resample

            y2 = np.stack([resample(c, orig_sr=sr, target_sr=self.sr) for c in y2])
        n_in = y2.shape[0]
        x = _to_channels(y2, self.preset.channels)
        block = self.chunk
        blocks = (x[:, i:i + block] for i in range(0, max(x.shape[1], 1), block))
        parts = list(self.iter_separate(blocks))
        out = np.concatenate(parts, axis=-1) if parts else np.zeros((len(self.stems), x.shape[0], 0), np.float32)
        out = out[..., : x.shape[1]]
        return {s: _from_channels(out[i], n_in) for i, s in enumerate(self.stems)}

    # -- files ---------------------------------------------------------------------------------

    def separate_file(self, path, out_dir, *, codec: str = "wav", overwrite: bool = False,
                      block_seconds: float = 10.0, progress: Callable[[float], None] | None = None) -> dict[str, Path]:
        """Separate one audio file into ``out_dir/<file name>/<stem>.<codec>`` (Spleeter's layout).

        The file is read and written in blocks; stems are written to temporary files first and
        moved into place only when the whole file is done, so a failure never leaves half a stem
        or replaces an earlier result.

        Raises
        ------
        AudioError
            Unreadable, empty or corrupt file; more than two channels.
        RunError
            A stem file exists and ``overwrite`` is false.
        """
        import soundfile as sf

        from auricle.audio import info

        if codec not in CODECS:
            raise ConfigError(f"unknown codec {codec!r}", fix=f"use one of {', '.join(CODECS)}")
        path = Path(path)
        meta = info(path)
        if meta.frames == 0:
            raise AudioError("the file holds no samples", path=path, fix="check the recording")
        if meta.channels > 2:
            raise AudioError(f"the file has {meta.channels} channels; separation takes mono or stereo",
                             path=path, fix=f"downmix it first, e.g. sox {path.name} -c 2 stereo.wav")
        dest = Path(out_dir) / path.stem
        targets = {s: dest / f"{s}.{codec}" for s in self.stems}
        existing = [t for t in targets.values() if t.exists()]
        if existing and not overwrite:
            raise RunError("stems already exist", path=existing[0],
                           fix="pass --overwrite to replace them, or choose another --output folder")
        dest.mkdir(parents=True, exist_ok=True)
        fmt, subtype = CODECS[codec]
        n_out = meta.channels
        tmp = {s: Path(tempfile.mkstemp(dir=dest, prefix=f".{s}.", suffix=f".{codec}")[1]) for s in self.stems}
        writers = {}
        try:
            for s in self.stems:
                writers[s] = sf.SoundFile(str(tmp[s]), "w", samplerate=self.sr, channels=n_out,
                                          format=fmt, subtype=subtype)
            total = meta.frames * self.sr / meta.samplerate
            done = 0
            for out in self.iter_separate(_read_blocks(path, self.sr, self.preset.channels, block_seconds)):
                for i, s in enumerate(self.stems):
                    writers[s].write(np.clip(_from_channels(out[i], n_out), -1, 1).T)
                done += out.shape[-1]
                if progress:
                    progress(min(1.0, done / max(total, 1)))
            for w in writers.values():
                w.close()
            for s in self.stems:
                os.replace(tmp[s], targets[s])
        except sf.LibsndfileError as exc:
            raise AudioError(f"cannot decode the file ({exc})", path=path,
                             fix="check it is a complete wav/flac/ogg/mp3 file") from None
        finally:
            for w in writers.values():
                if not w.closed:
                    w.close()
            for t in tmp.values():
                if t.exists():
                    t.unlink()
        return targets


def _to_channels(y: np.ndarray, channels: int) -> np.ndarray:
    if y.shape[0] == channels:
        return y
    if y.shape[0] == 1:
        return np.repeat(y, channels, axis=0)
    return y.mean(axis=0, keepdims=True)


def _from_channels(y: np.ndarray, channels: int) -> np.ndarray:
    if y.shape[0] == channels:
        return y
    if channels == 1:
        return y.mean(axis=0, keepdims=True)
    return np.repeat(y, channels, axis=0)


def _read_blocks(path: Path, sr: int, channels: int, block_seconds: float) -> Iterator[np.ndarray]:
    """Decode ``path`` in blocks, resampled to ``sr`` as a stream, as ``(channels, n)`` float32."""
    import soundfile as sf
    import soxr

    try:
        f = sf.SoundFile(str(path))
    except Exception as exc:
        raise AudioError(f"cannot open the file ({str(exc).splitlines()[0][:120]})", path=path,
                         fix="check it is a complete wav/flac/ogg/mp3 file") from None
    with f:
        rs = None if f.samplerate == sr else soxr.ResampleStream(f.samplerate, sr, f.channels, dtype="float32")
        n = max(1, int(block_seconds * f.samplerate))
        while True:
            blk = f.read(n, dtype="float32", always_2d=True)
            last = len(blk) < n
            if not np.isfinite(blk).all():
                raise AudioError("the file holds NaN or infinite samples", path=path,
                                 fix="re-export it from the editor that wrote it")
            if rs is not None:
                blk = rs.resample_chunk(blk, last=last)
            if len(blk):
                yield _to_channels(blk.T, channels)
            if last:
                break


def read_meta(run_dir) -> dict:
    """The run's ``separation.json`` (preset, stems, mask mode), or a clear error."""
    run_dir = Path(run_dir)
    f = run_dir / SEPARATION_META
    if not f.exists():
        if (run_dir / "config.yaml").exists():
            raise RunError("this run is a classifier, not a separator", path=run_dir,
                           fix="use `auricle predict` for it, or train a separator with `auricle separate-train`")
        raise RunError("not a separation run directory (no separation.json)", path=run_dir,
                       fix="train one with `auricle separate-train DATA -o RUN`")
    return json.loads(f.read_text())
