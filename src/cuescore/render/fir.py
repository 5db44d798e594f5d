"""Kaiser-window FIR design: SciPy's `kaiserord` and `firwin(..., window=("kaiser", beta))` for a
low-pass, in NumPy (equal to SciPy's to ~1e-15; tests/test_meter.py compares them).

Importing `scipy.signal` costs about half a second, a tenth of a short `cuescore generate`, for
two half-band and interpolation filters designed once per run.
"""

from __future__ import annotations

import math

import numpy as np


def kaiser_beta(attenuation_db: float) -> float:
    """Kaiser window β for a stop band `attenuation_db` (positive dB) down (Oppenheim & Schafer)."""
    a = attenuation_db
    if a > 50:
        return 0.1102 * (a - 8.7)
    if a > 21:
        return 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21)
    return 0.0


def kaiser_order(attenuation_db: float, width: float) -> tuple[int, float]:
    """(taps, β) of a Kaiser-window FIR `attenuation_db` down in the stop band with a transition
    `width` as a share of the Nyquist frequency (SciPy's `kaiserord`)."""
    a = abs(attenuation_db)
    if a < 8:
        raise ValueError(f"attenuation {a} dB is too small for the Kaiser formula (at least 8)")
    taps = (a - 7.95) / 2.285 / (np.pi * width) + 1
    return int(math.ceil(taps)), kaiser_beta(a)


def kaiser_lowpass(taps: int, cutoff: float, beta: float) -> np.ndarray:
    """Linear-phase low-pass FIR [taps], float64: a sinc cut off at `cutoff` (share of the Nyquist
    frequency, 0..1) times a Kaiser window β, scaled to unit gain at DC (SciPy's `firwin`)."""
    if not 0.0 < cutoff < 1.0:
        raise ValueError(f"cutoff {cutoff} must lie strictly between 0 and 1 (the Nyquist frequency)")
    m = np.arange(taps, dtype=np.float64) - 0.5 * (taps - 1)
    h = cutoff * np.sinc(cutoff * m)
    h *= np.kaiser(taps, beta)
    return h / np.sum(h)
