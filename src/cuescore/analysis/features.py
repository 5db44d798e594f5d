"""`VideoFeatures`: the per-second timeline of a video plus its exact cut times and visual beats.

Saved as `features.json` (scalars, cuts, transitions, visual beats, encoder) and `features.npz`
(the per-second arrays). The timeline has `T = ceil(duration)` rows; row `t` describes the
second [t, t+1).
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from cuescore.errors import InputError
from cuescore.fileio import atomic_path, ensure_writable_dir

EMOTIONS = ("exciting", "fearful", "tense", "sad", "relaxing", "neutral")
"""Video2Music's six emotion classes, in the order of the `emotion` columns."""

HARD_CUT = "cut"
TRANSITION_KINDS = (HARD_CUT, "fade_in", "fade_out", "dissolve")
PER_SECOND = ("scene_offset", "motion", "flow", "brightness", "saturation", "colorfulness", "hue", "valence", "arousal")
FORMAT_VERSION = 1


@dataclass
class Transition:
    """A shot boundary spanning [start, end] seconds. `time` is where the music should mark it:
    the first frame of the new shot for a hard cut, the centre of a dissolve, and the black
    point of a fade (the end of a fade-out, the start of a fade-in), which is also where
    annotated ground truth puts fades."""

    time: float
    kind: str = HARD_CUT
    start: float | None = None
    end: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in TRANSITION_KINDS:
            raise ValueError(f"unknown transition kind {self.kind!r}")
        self.start = self.time if self.start is None else self.start
        self.end = self.time if self.end is None else self.end


def timeline_length(duration: float) -> int:
    """T = ceil(duration) rows, at least 1."""
    return max(1, int(math.ceil(duration - 1e-9)))


def fill_forward(rows: np.ndarray, missing: np.ndarray, *, lead: str = "zeros") -> np.ndarray:
    """`rows` [T, ...] with each `missing` row ([T] bool) replaced by the last present row before it.

    lead: what the rows before the first present one become: "zeros", or "first" (that first
    present row). With no row present at all, every row is zeros.
    """
    if lead not in ("zeros", "first"):
        raise ValueError(f"lead must be 'zeros' or 'first', got {lead!r}")
    rows = np.asarray(rows)
    present = ~np.asarray(missing, bool)
    if not present.any():
        return np.zeros_like(rows)
    last = np.maximum.accumulate(np.where(present, np.arange(len(rows)), -1))
    out = rows[np.maximum(last, 0)].copy()
    out[last < 0] = rows[np.argmax(present)] if lead == "first" else 0
    return out


def mean_over(values: np.ndarray, start: float, end: float) -> np.ndarray:
    """Mean of per-second rows (row t covers [t, t+1) s) over [start, end), weighted by overlap."""
    rows = np.asarray(values, float)
    lo, hi = int(math.floor(start)), int(math.ceil(end))
    idx = np.arange(max(lo, 0), min(max(hi, lo + 1), len(rows)))
    if idx.size == 0:
        return rows[-1] if len(rows) else rows
    w = np.clip(np.minimum(end, idx + 1) - np.maximum(start, idx), 0.0, None)
    w = w if w.sum() > 0 else np.ones_like(w)
    return np.tensordot(w / w.sum(), rows[idx], axes=1)


@dataclass
class VideoFeatures:
    """Everything the engines know about a video. Per-second arrays have T rows; times in seconds.

    motion: mean absolute RGB difference of consecutive frames, 0-255 scale (Video2Music).
    flow: mean Farneback optical-flow magnitude, pixels per frame at 160 px width (CMT).
    brightness, saturation, colorfulness: 0-1. hue: dominant hue in degrees 0-360.
    valence, arousal: -1..1. emotion: [T, 6] probabilities over `EMOTIONS`.
    scene_offset: whole seconds since the current shot began (MuVi-Sync).
    semantic: [T, D] from the encoder named in `encoder`.
    source: the video's path as given to `analyze` (engines that read frames open it).
    regions: per detected shot, the main regions of its key frame (`analysis.regions.shot_regions`):
        {"shot", "start", "end", "time", "regions": [{"area", "motion", "colour", "brightness", "centre"}]}.
    """

    duration: float
    fps: float
    width: int
    height: int
    transitions: list[Transition]
    scene_offset: np.ndarray
    motion: np.ndarray
    flow: np.ndarray
    brightness: np.ndarray
    saturation: np.ndarray
    colorfulness: np.ndarray
    hue: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray
    emotion: np.ndarray
    semantic: np.ndarray
    beat_times: np.ndarray
    beat_strengths: np.ndarray
    encoder: dict = field(default_factory=dict)
    source: str = ""
    regions: list[dict] = field(default_factory=list)

    @property
    def T(self) -> int:
        return timeline_length(self.duration)

    @property
    def cuts(self) -> list[float]:
        """Times of every shot boundary (see `Transition.time`), sorted."""
        return sorted(t.time for t in self.transitions)

    @property
    def hard_cuts(self) -> list[float]:
        return sorted(t.time for t in self.transitions if t.kind == HARD_CUT)

    def validate(self) -> None:
        """Check array shapes against T; raise ValueError naming the first bad field."""
        T = self.T
        for name in PER_SECOND:
            if np.asarray(getattr(self, name)).shape != (T,):
                raise ValueError(f"{name} has shape {np.shape(getattr(self, name))}, expected ({T},)")
        if self.emotion.shape != (T, len(EMOTIONS)):
            raise ValueError(f"emotion has shape {self.emotion.shape}, expected ({T}, {len(EMOTIONS)})")
        if self.semantic.ndim != 2 or self.semantic.shape[0] != T:
            raise ValueError(f"semantic has shape {self.semantic.shape}, expected ({T}, D)")
        if self.beat_times.shape != self.beat_strengths.shape:
            raise ValueError("beat_times and beat_strengths differ in length")

    def save(self, directory: str | os.PathLike) -> Path:
        """Write `features.json` and `features.npz` into `directory` (created if needed), atomically."""
        self.validate()
        out = ensure_writable_dir(directory)
        meta = {
            "format_version": FORMAT_VERSION,
            "source": self.source,
            "duration": self.duration,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "T": self.T,
            "cuts": self.cuts,
            "hard_cuts": self.hard_cuts,
            "transitions": [asdict(t) for t in self.transitions],
            "visual_beats": {"times": self.beat_times.tolist(), "strengths": self.beat_strengths.tolist()},
            "encoder": self.encoder,
            "emotions": list(EMOTIONS),
            "regions": self.regions,
        }
        arrays = {name: np.asarray(getattr(self, name), np.float32) for name in PER_SECOND}
        arrays["emotion"] = self.emotion.astype(np.float32)
        arrays["semantic"] = self.semantic.astype(np.float32)
        with atomic_path(out / "features.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
        with atomic_path(out / "features.json") as tmp:
            tmp.write_text(json.dumps(meta, indent=2))
        return out

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "VideoFeatures":
        """Read features saved by `save`; `InputError` if the folder is incomplete or malformed."""
        d = Path(directory)
        meta_path, npz_path = d / "features.json", d / "features.npz"
        for p in (meta_path, npz_path):
            if not p.is_file():
                raise InputError(f"{p}: missing; run `cuescore analyze` to create features")
        try:
            meta = json.loads(meta_path.read_text())
            with np.load(npz_path) as npz:
                arrays = {k: npz[k] for k in npz.files}
            beats = meta["visual_beats"]
            feats = cls(
                duration=float(meta["duration"]),
                fps=float(meta["fps"]),
                width=int(meta["width"]),
                height=int(meta["height"]),
                transitions=[Transition(**t) for t in meta["transitions"]],
                beat_times=np.asarray(beats["times"], np.float64),
                beat_strengths=np.asarray(beats["strengths"], np.float64),
                encoder=dict(meta.get("encoder", {})),
                source=str(meta.get("source", "")),
                regions=list(meta.get("regions", [])),
                **{k: arrays[k] for k in (*PER_SECOND, "emotion", "semantic")},
            )
            feats.validate()
        except (KeyError, TypeError, ValueError, OSError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            raise InputError(f"{d}: features are malformed ({exc}); run `cuescore analyze` again") from None
        return feats
