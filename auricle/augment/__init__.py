"""On-the-fly training augmentation: one transform per class, a Compose, and a config builder.

Waveform transforms run on ``(N, samples)`` batches before feature extraction; feature
transforms (SpecAugment, freq_warp) after it.  Everything is seeded through a ``numpy`` Generator.
Training runs shift, gain, noise, tempo and the three filters on cached mel power instead when the whole
waveform part of the chain allows it (:mod:`auricle.augment.power`).

Registered names (the keys of a config's ``augment:`` mapping; every one also takes ``p``):

==================  ==========================================================================
``time_shift``      ``max_ms``, ``mode`` (pad/roll)
``gain``            ``min_db``, ``max_db``
``noise``           ``min_snr_db``, ``max_snr_db``, ``colors`` (white/pink/brown), ``folder``, ``floor_db``
``background_noise`` ``folder`` (required), ``min_snr_db``, ``max_snr_db``, ``colors``, ``floor_db``
``speed``           ``min_rate``, ``max_rate``, ``fit`` (center/start)   pitch and tempo together
``tempo``           ``min_rate``, ``max_rate``, ``fit``, ``phase_lock``  tempo only (phase vocoder)
``pitch_shift``     ``min_semitones``, ``max_semitones``, ``phase_lock``  pitch only
``compressor``      ``min/max_threshold_db``, ``min/max_ratio``, ``attack_ms``, ``release_ms``,
                    ``rms_ms``, ``knee_db``, ``relative``, ``makeup``
``low_pass``        ``min_cutoff_hz``, ``max_cutoff_hz``, ``order``
``high_pass``       ``min_cutoff_hz``, ``max_cutoff_hz``, ``order``
``band_pass``       ``min/max_center_hz``, ``min/max_bandwidth_octaves``, ``order``
``reverb``          ``min_rt60``, ``max_rt60`` (s), ``min_wet``, ``max_wet``, ``predelay_ms``
``spec_augment``    ``time_masks``, ``max_time``, ``freq_masks``, ``max_freq``, ``time_warp``
``freq_warp``       ``min_alpha``, ``max_alpha``  VTLP: scale the frequency axis of the features
``random_eq``       ``max_tilt_db``, ``bands``, ``max_gain_db``, ``min_width``, ``max_width``  EQ curve on dB features
==================  ==========================================================================
"""
from auricle.augment.base import TRANSFORMS, Compose, Transform, build_chain
from auricle.augment.dynamics import Compressor
from auricle.augment.eq import RandomEQ
from auricle.augment.filters import BandPass, HighPass, LowPass
from auricle.augment.noise import AddNoise, BackgroundNoise, NoiseBank, colored_noise, noise_bank
from auricle.augment.reverb import Reverb
from auricle.augment.spec import FreqWarp, SpecAugment
from auricle.augment.stretch import PitchShift, Speed, Tempo
from auricle.augment.waveform import Gain, TimeShift

__all__ = ["TRANSFORMS", "Compose", "Transform", "build_chain", "SpecAugment", "FreqWarp", "AddNoise", "BackgroundNoise",
           "NoiseBank", "noise_bank", "Gain", "TimeShift", "colored_noise", "Speed", "Tempo", "PitchShift", "Compressor",
           "LowPass", "HighPass", "BandPass", "Reverb", "RandomEQ"]
