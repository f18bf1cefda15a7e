"""On-the-fly training augmentation: one transform per class, a Compose, and a config builder.

Waveform transforms run on ``(N, samples)`` batches before feature extraction; feature
transforms (SpecAugment) after it.  Everything is seeded through a ``numpy`` Generator.
"""
from auricle.augment.base import TRANSFORMS, Compose, Transform, build_chain
from auricle.augment.spec import SpecAugment
from auricle.augment.waveform import AddNoise, Gain, TimeShift, colored_noise

__all__ = ["TRANSFORMS", "Compose", "Transform", "build_chain", "SpecAugment", "AddNoise", "Gain",
           "TimeShift", "colored_noise"]
