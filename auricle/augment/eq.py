"""Random equalisation on the feature frequency axis: another instrument maker, microphone or room.

Two recordings of one instrument differ most in their average spectrum: the body of the
instrument, the microphone, the room and the mixing desk each tilt it and add broad resonances
or dips.  :class:`RandomEQ` adds such a curve, in dB, to every frame of a log-mel or dB
spectrogram: a tilt across the band plus ``bands`` Gaussian bumps (peaks or dips), all smooth
along the axis of bins (mel bins: a perceptual frequency scale), at the cost of one addition per batch.
"""
from __future__ import annotations

import numpy as np

from auricle.augment.base import Transform, check_range


class RandomEQ(Transform):
    """Add a random smooth EQ curve (dB) across the frequency bins of dB features.

    With ``u`` the bin position on ``[0, 1]`` (first to last bin), each example gets::

        curve(u) = tilt_db * (u - 0.5) + sum_k gain_db[k] * exp(-0.5 * ((u - centre[k]) / width[k]) ** 2)

    ``tilt_db`` uniform in ``[-max_tilt_db, max_tilt_db]`` (the difference between the top and the
    bottom bin), ``gain_db`` in ``[-max_gain_db, max_gain_db]``, ``centre`` in ``[0, 1]``, ``width`` in
    ``[min_width, max_width]`` (fractions of the axis).

    Parameters
    ----------
    max_tilt_db, max_gain_db : float
        Largest tilt and bump height (>= 0).
    bands : int
        Bumps per example (>= 0).
    min_width, max_width : float
        Range of bump widths (standard deviation, fraction of the axis; > 0).
    p : float
        Probability per example.

    Examples
    --------
    >>> x = np.zeros((1, 2, 5), np.float32)
    >>> RandomEQ(bands=0).apply(x, tilt_db=np.array([4.0]), centre=np.zeros((1, 0)), gain_db=np.zeros((1, 0)),
    ...                         width=np.ones((1, 0)))[0, 0].tolist()
    [-2.0, -1.0, 0.0, 1.0, 2.0]
    """

    name = "random_eq"
    domain = "features"

    def __init__(self, max_tilt_db: float = 6.0, bands: int = 3, max_gain_db: float = 6.0, min_width: float = 0.05,
                 max_width: float = 0.25, p: float = 0.5):
        from auricle.errors import ConfigError

        super().__init__(p)
        self.max_tilt_db = check_range(self.name, "max_tilt_db", max_tilt_db, "max_tilt_db", max_tilt_db,
                                       minimum=0.0, maximum=60.0)[0]
        self.max_gain_db = check_range(self.name, "max_gain_db", max_gain_db, "max_gain_db", max_gain_db,
                                       minimum=0.0, maximum=60.0)[0]
        self.min_width, self.max_width = check_range(self.name, "min_width", min_width, "max_width", max_width,
                                                     minimum=0.0, strict_min=True, maximum=10.0)
        if isinstance(bands, bool) or not isinstance(bands, (int, np.integer)) or bands < 0:
            raise ConfigError(f"{self.name}: bands must be a whole number >= 0, got {bands!r}", fix="e.g. bands: 3")
        self.bands = int(bands)

    def randomize(self, n, rng):
        return {"tilt_db": rng.uniform(-self.max_tilt_db, self.max_tilt_db, n),
                "centre": rng.random((n, self.bands)),
                "gain_db": rng.uniform(-self.max_gain_db, self.max_gain_db, (n, self.bands)),
                "width": rng.uniform(self.min_width, self.max_width, (n, self.bands))}

    def check(self, fcfg) -> None:
        from auricle.errors import ConfigError

        if fcfg is not None and fcfg.kind not in ("log_mel", "spectrogram"):
            raise ConfigError(f"random_eq needs dB features with a frequency axis (log_mel or spectrogram), "
                              f"not {fcfg.kind!r}", fix="drop it with --set augment.random_eq=false, or use log-mel features")

    def apply(self, x, *, tilt_db, centre, gain_db, width, rng=None, **_):
        """``x`` ``(N, frames, bins)`` in dB; the parameters as :meth:`randomize` draws them."""
        n, _, bins = x.shape
        u = np.linspace(0.0, 1.0, bins) if bins > 1 else np.full(1, 0.5)
        tilt = np.broadcast_to(np.asarray(tilt_db, dtype=np.float64), (n,))
        curve = tilt[:, None] * (u[None, :] - 0.5)
        c, g, w = (np.asarray(a, dtype=np.float64).reshape(n, -1) for a in (centre, gain_db, width))
        if c.shape[1]:
            curve = curve + (g[:, :, None] * np.exp(-0.5 * ((u[None, None, :] - c[:, :, None]) / w[:, :, None]) ** 2)
                             ).sum(axis=1)
        return (x + curve[:, None, :].astype(x.dtype)).astype(x.dtype)
