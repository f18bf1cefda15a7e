"""Audio features: spectrogram, mel spectrogram, log-mel (dB), MFCC - batched and fast.

Every function here computes the same numbers as its librosa 0.11 counterpart
(``np.abs(librosa.stft(...))**power``, ``librosa.feature.melspectrogram``,
``librosa.power_to_db``, ``librosa.feature.mfcc``) to within 1e-3 dB / 1e-3 MFCC units, but
with numpy + scipy only and vectorised over a whole batch of clips:

* frames are strided views of the (padded) signal, never copied one by one;
* the window is applied in float32 straight into an ``n_fft``-wide buffer whose tail is
  zero (the nonzero part of librosa's centred window sits at the start instead - a circular
  shift, which leaves the magnitude spectrum unchanged);
* ``scipy.fft.rfft`` runs in float32 on the whole chunk (``workers=1`` by default);
* the mel projection is a float32 matmul, split into mel-band groups that only touch the FFT
  bins they cover (the filterbank is banded, so most of the dense product is zeros);
* the ``top_db`` clamp is applied per clip in the power domain, then one in-place ``log``
  (numpy's float32 ``log`` is SIMD, ``log10`` is not); the MFCC is one matmul with a
  precomputed DCT matrix (float64, so large c0 values keep their precision).

Batches are processed in chunks of a few clips (:data:`CHUNK_BYTES` of frames) so the frame
buffer stays in cache; on the 2-core EPYC this was written on, that beat chunks of 32-256 clips
by 1.5-2x.

Precision
---------
float32 FFT round-off is white noise about 140 dB below a frame's energy, so a mel band far
below its frame's average level (a pure tone's distant bands, the top octave of speech) can be
off by more than 1e-3 dB.  Each chunk is checked: frames holding a value that matters (above
the ``top_db`` floor) and lies more than :data:`REFINE_DB` below the frame's average spectral
level are recomputed in float64; when most frames of a chunk needed that, the next chunk is
computed in float64 outright.  Noise-like audio never needs it, speech needs it for ~10-20 % of
frames, pure tones for nearly all (then throughput is about 60 % of the float32 path).
:data:`STATS` counts both fallbacks.

Layouts
-------
The librosa-compatible functions (:func:`spectrogram`, :func:`melspectrogram`,
:func:`power_to_db`, :func:`log_mel`, :func:`mfcc`) take ``y`` as ``(samples,)`` or
``(..., samples)`` and return librosa's ``(..., bins, frames)`` layout.  :func:`extract`, which
feeds models, returns TIME-MAJOR ``(N, frames, bins)`` float32.

Batches and ``top_db``
----------------------
librosa clamps ``top_db`` against the maximum of the *whole* array it is given, so a quiet clip
batched with a loud one would be flattened to the loud clip's floor.  Here the clamp is per clip
(the maximum over the last two axes), so a batched call equals calling librosa per clip.

Modules
-------
``stft`` (windows, :func:`stft_plan`, :func:`spectrogram`, :func:`power_to_db`), ``mel`` (mel
scale, :func:`mel_filterbank`, :func:`mel_plan`, :func:`melspectrogram`, :func:`log_mel`),
``mfcc`` (:func:`dct_matrix`, :func:`mfcc`), ``kernel`` (the chunked engine and its precision
repair), ``config`` (:class:`FeatureConfig`), ``presets`` (:data:`PRESETS`, :func:`preset`) and
``extraction`` (:func:`extract`, :func:`mel_power`, :func:`finish_power`, :func:`cmvn_`) and
``padding`` (variable-length rows: :func:`valid_frames`, :func:`mask_padding_`, :data:`PAD_VALUE`).
Everything public is re-exported here, so ``auricle.features.log_mel(...)`` is the way to call it.

Plans and kernels
-----------------
The streaming front end (:mod:`auricle.streaming.frontend`) computes the same numbers frame by
frame from the same pieces: a :class:`StftPlan` (:func:`stft_plan`), a :class:`MelPlan`
(:func:`mel_plan`), a DCT matrix (:func:`dct_matrix`), the banded projection
:func:`apply_mel`, and the precision check :func:`risky_frames` / :func:`refine_frames` with
threshold :data:`REFINE_DB`.
"""
from __future__ import annotations

from auricle.features.config import CMVN_EPS, KINDS, NORMALIZATIONS, FeatureConfig
from auricle.features.extraction import cmvn_, extract, finish_power, mel_power, plans
from auricle.features.kernel import CHUNK_BYTES, REFINE_DB, STATS, apply_mel, compute, refine_frames, risky_frames
from auricle.features.mel import MelPlan, log_mel, mel_filterbank, mel_frequencies, mel_plan, melspectrogram
from auricle.features.mfcc import dct_matrix, mfcc
from auricle.features.padding import PAD_VALUE, mask_padding_, valid_frames
from auricle.features.presets import PRESETS, preset
from auricle.features.stft import PAD_MODES, StftPlan, _window, power_to_db, spectrogram, stft_plan

__all__ = [
    "FeatureConfig",
    "CHUNK_BYTES",
    "CMVN_EPS",
    "KINDS",
    "MelPlan",
    "NORMALIZATIONS",
    "PAD_VALUE",
    "PAD_MODES",
    "PRESETS",
    "REFINE_DB",
    "STATS",
    "StftPlan",
    "apply_mel",
    "cmvn_",
    "compute",
    "dct_matrix",
    "extract",
    "finish_power",
    "log_mel",
    "mel_filterbank",
    "mel_frequencies",
    "mel_plan",
    "mask_padding_",
    "mel_power",
    "melspectrogram",
    "mfcc",
    "plans",
    "power_to_db",
    "preset",
    "refine_frames",
    "risky_frames",
    "spectrogram",
    "stft_plan",
    "valid_frames",
]
