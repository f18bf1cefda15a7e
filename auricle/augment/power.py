"""Augmentation in the power domain: shift, gain, noise, filters and tempo on cached mel power.

The default chain (time shift, gain, generated noise, then VTLP on the features) on the
waveform costs an STFT + mel of every augmented clip on every batch: 9.4 ms of the 13 ms per
batch of 32, which a small model's 18 ms step cannot hide on two cores (2.2x training
slow-down).  But those three transforms are linear in power, so they can be applied to the
clean clip's mel power ``S`` computed once (:func:`auricle.features.mel_power`):

* gain ``g`` dB: ``S * 10**(g/10)`` (exact);
* a time shift by ``k`` samples: a shift by ``round(k / hop)`` whole frames, silence padded
  ("pad") or wrapped ("roll") (exact up to the 10 ms rounding and the two edge frames);
* noise ``n`` at a given SNR: ``S + a**2 * N`` with ``N`` the mel power of a window of the
  same circular unit-RMS noise bank the waveform path uses (:func:`auricle.augment.noise.noise_bank`)
  and ``a`` the waveform path's noise RMS for that SNR, plus the cross term ``2 Re(X conj(N))``
  drawn at its size per band (:func:`mix_power`), so a noisy mix is as rough as on the waveform.
  Recorded noise (``noise.folder``, ``background_noise``) works the same way from the mel power
  of each file played in a loop (:func:`recording_power`, computed once per folder);
* a low-, high- or band-pass filter ``H``: each band times ``|H|**2`` averaged over the band
  (:func:`auricle.augment.filters.band_gains`; within 1 dB of filtering the waveform where the
  filter passes, the error being the filter's slope inside a band);
* tempo (a phase-vocoder stretch on the waveform, ~20x the cost of the features): the frame axis
  stretched by linear interpolation between frames (:func:`auricle.augment.stretch.stretch_frames`),
  the word's edges within two frames of the vocoder's;

then the dB/DCT/normalization of :func:`auricle.features.finish_power`, then the feature-domain
transforms (SpecAugment, VTLP) as usual.  Which transforms can run here is declared per class
(``apply_power``); :func:`power_reason` says why a chain cannot, and training falls back to the
waveform path then.  ``train.augment_domain`` picks: ``auto`` (power when possible), ``waveform``,
``power`` (an error when impossible).
"""
from __future__ import annotations

import numpy as np

from auricle.augment.base import Compose
from auricle.augment.mixing import (band_dof, circular_power, mix_power, noise_power,  # noqa: F401  (re-exported)
                                    recording_power)

def power_reason(chain: Compose, fcfg) -> str | None:
    """None if every waveform transform of ``chain`` can run on ``fcfg``'s mel power, else why not."""
    if fcfg.kind not in ("log_mel", "mfcc", "spectrogram"):
        return f"features are {fcfg.kind}, not a spectrogram"
    if fcfg.dither_db is not None:
        return "features.dither_db adds dither to the waveform"
    if float(fcfg.power) != 2.0:
        return "features.power is not 2 (noise adds in power, not magnitude)"
    for t in chain.waveform:
        if not t.power_ok():
            return f"{t.name} has no power-domain form"
    return None


class PowerAugmenter:
    """Apply a chain's waveform transforms to clean mel power, then finish the features.

    Parameters drawn per transform exactly as on the waveform (same ``p``, same ranges, same
    ``randomize``), so a config means the same thing on either path.

    Examples
    --------
    >>> import numpy as np
    >>> from auricle.augment import build_chain
    >>> from auricle.features import preset, mel_power, extract
    >>> fcfg = preset("kws")
    >>> x = np.random.default_rng(0).standard_normal((2, 16000)).astype(np.float32) * 0.1
    >>> aug = PowerAugmenter(build_chain({"gain": {"min_db": 6, "max_db": 6, "p": 1.0}}), fcfg)
    >>> S, rms = mel_power(fcfg, x), aug.rms(x)
    >>> y = aug(S, rms, np.random.default_rng(1))
    >>> bool(np.allclose(y, extract(fcfg, x * 10 ** (6 / 20)), atol=1e-3))
    True
    """

    def __init__(self, chain: Compose, fcfg):
        from auricle.errors import ConfigError

        why = power_reason(chain, fcfg)
        if why:
            raise ConfigError(f"augmentation cannot run in the power domain: {why}",
                              fix="set train.augment_domain: waveform (or auto)")
        self.chain, self.fcfg = chain, fcfg

    def cache(self, waves: np.ndarray, *, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """Clean mel power of ``waves`` ``(N, samples)`` and their active RMS, for :meth:`batch`.

        With a time shift in the chain the power is cached at two framing phases, as recorded
        and delayed by half a hop: whole-frame shifts alone would show the model a single
        framing of each clip, while sample-exact shifts on the waveform show many.  Returns
        ``(S, rms)`` with ``S`` of shape ``(phases, N, frames, bins)``.
        """
        from auricle.augment.waveform import TimeShift
        from auricle.features import mel_power

        waves = np.asarray(waves, dtype=np.float32)
        phases = [0]
        if any(isinstance(t, TimeShift) for t in self.chain.waveform):
            phases.append(self.fcfg.resolved_hop_length // 2)
        S = np.empty((len(phases), len(waves), self.fcfg.n_frames, self._bins()), np.float32)
        for p, d in enumerate(phases):
            for i in range(0, len(waves), chunk):
                w = waves[i:i + chunk]
                if d:
                    w = np.concatenate([np.zeros((len(w), d), np.float32), w[:, :-d]], axis=1)
                S[p, i:i + chunk] = mel_power(self.fcfg, w)
        return S, self.rms(waves)

    def _bins(self) -> int:  # mel power has n_mels bands even when the features are MFCCs
        return self.fcfg.n_mels if self.fcfg.kind == "mfcc" else self.fcfg.n_bins

    def batch(self, S: np.ndarray, rms: np.ndarray, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Features of examples ``idx`` of a :meth:`cache`: a random framing phase each, then the chain."""
        phase = rng.integers(0, S.shape[0], len(idx)) if S.shape[0] > 1 else np.zeros(len(idx), int)
        return self(S[phase, idx], rms[idx], rng)

    @staticmethod
    def rms(waves: np.ndarray) -> np.ndarray:
        """Per-clip active RMS (what the waveform noise transform measures SNR against)."""
        from auricle.augment.colored import active_rms

        return active_rms(np.asarray(waves, dtype=np.float32))

    def __call__(self, S: np.ndarray, rms: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        from auricle.features import finish_power

        S = np.array(S, dtype=np.float32)  # never touch the cache
        rms = np.array(rms, dtype=np.float64)
        for t in self.chain.waveform:
            n = S.shape[0]
            mask = rng.random(n) < t.p
            if not mask.any():
                continue
            params = t.randomize(int(mask.sum()), rng)
            if mask.all():
                S, rms = t.apply_power(S, rms, fcfg=self.fcfg, rng=rng, **params)
            else:
                sub, r = t.apply_power(S[mask], rms[mask], fcfg=self.fcfg, rng=rng, **params)
                S[mask], rms[mask] = sub, r
        x = finish_power(self.fcfg, S)
        return self.chain.apply_features(x, rng, fcfg=self.fcfg)
