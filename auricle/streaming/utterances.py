"""Utterance by utterance, frame by frame: a framewise classifier (spoken language identification)
streamed with its state reset after every utterance.

:class:`UtteranceStream` runs the network of a framewise model (``data.silence_frames: mask`` or
``label``, :mod:`auricle.models.frames`) as a step model, one feature frame at a time, with the
recurrent state carried.  An utterance ends when ``end_frames`` frames in a row are silent (more
than ``threshold_db`` below the loudest frame of the utterance so far, the same energy VAD as
training, :func:`auricle.datasets.silence.utterance_bounds`); then the utterance is decided from
its frame posteriors exactly as the offline model decides it (the weighted mean over its voiced
frames), the state is reset and the next frame starts a new utterance.  Fed the frames of one
utterance, the decision equals the offline model on that utterance (``tests/test_language.py``:
within 1e-5).

``remove`` mode does not stream frame by frame (which frames are silent is known only at the
utterance's end); per-clip CMVN (``features.normalize: per_clip``) neither.
"""
from __future__ import annotations

import numpy as np

from auricle.datasets.silence import DEFAULT_THRESHOLD_DB, decide, frame_level_db, frame_weights, voiced_frames
from auricle.streaming.convert import NotStreamable

__all__ = ["UtteranceStream"]


class UtteranceStream:
    """Stream feature frames through a framewise classifier; one decision per utterance.

    Parameters
    ----------
    model : keras.Model
        A run's framewise ``model.keras`` (input ``(T, bins + 1)``).
    fcfg : FeatureConfig
        The run's features (un-normalized: ``normalize="none"``).
    mode : {"mask", "label"}
        The run's ``data.silence_frames``.
    threshold_db : float
        The run's ``data.vad_db``.
    end_frames : int
        Silent frames in a row that end an utterance.

    Examples
    --------
    >>> s = UtteranceStream(model, fcfg, mode="mask")  # doctest: +SKIP
    >>> for utt in s.push(frames): print(utt["start"], utt["stop"], utt["probs"].argmax())  # doctest: +SKIP
    >>> s.flush()  # doctest: +SKIP
    """

    def __init__(self, model, fcfg, *, mode: str, threshold_db: float = DEFAULT_THRESHOLD_DB, end_frames: int = 30):
        from auricle.models.frames import frame_network, is_framewise
        from auricle.streaming.convert import make_step_model

        if mode == "remove":
            raise NotStreamable("data.silence_frames: remove cuts frames whose silence is known only at the "
                                "utterance's end", fix="train with data.silence_frames: mask or label to stream")
        if not is_framewise(model):
            raise NotStreamable("not a framewise model", fix="train with data.silence_frames: mask or label")
        if fcfg.normalize != "none":
            raise NotStreamable("per-clip normalization needs the whole utterance",
                                fix="train with features.normalize: none (the language recipe does)")
        self.fcfg, self.mode = fcfg, mode
        self.threshold_db, self.end_frames = float(threshold_db), int(end_frames)
        self.step = make_step_model(frame_network(model), mode="incremental", frames_per_step=1, per_frame=True)
        self.runner = self.step.runner()
        self.position = 0
        self._new_utterance()

    def _new_utterance(self) -> None:
        self.runner.reset()
        self.start = self.position
        self.levels, self.probs = [], []
        self.peak, self.run = -np.inf, 0

    def _finish(self) -> dict:
        levels = np.asarray(self.levels)[None]
        w = frame_weights(voiced_frames(levels, [levels.shape[1]], threshold_db=self.threshold_db),
                          [levels.shape[1]], self.mode)
        probs = decide(np.stack(self.probs)[None], w, silence_class=self.mode == "label")[0]
        out = {"start": self.start, "stop": self.position, "probs": probs}
        self._new_utterance()
        return out

    def push(self, frames) -> list[dict]:
        """Feed ``(n, bins)`` un-normalized feature frames; returns the utterances they finished,
        each ``{"start", "stop", "probs"}`` (frame indices in the stream, posteriors ``(C,)``)."""
        frames = np.asarray(frames, dtype=np.float32).reshape(-1, self.step.bins)
        done = []
        for f, level in zip(frames, frame_level_db(frames, self.fcfg)):
            self.probs.append(self.runner.push(f[None])[0])
            self.levels.append(float(level))
            self.position += 1
            self.peak = max(self.peak, float(level))
            self.run = self.run + 1 if level < self.peak - self.threshold_db else 0
            if self.run >= self.end_frames:
                done.append(self._finish())
        return done

    def flush(self) -> list[dict]:
        """Decide the unfinished utterance (if any frames are pending)."""
        return [self._finish()] if self.probs else []
