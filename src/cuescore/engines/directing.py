"""What the user's directing controls change in the plan decisions `VideoPlanner` makes.

- `directed(features, controls)`: the features with the cuts named by `ignore_cuts` removed, after
  checking every directed time against the video's duration and every shot/region index of
  `video_control` against the analysis.
- `fold_weights`: each second's colour, motion and emotion features pulled toward neutral (or
  pushed away) by the product of the `video_control` entries covering it; the global `weight_*`
  controls then apply on top as before. `*,*,F,W` entries are not folded: `with_global_weights`
  multiplies them into `--weight-F`, so such an entry is exactly that flag. An entry for one
  region of a shot counts by that region's share of the shot (colour and emotion: its area;
  motion: its area × its motion), areas scaled by the region's `area` weight; `SHOT,*,F,W` scales
  the whole shot by W, and a region's weight moves its shot's factor by the region's share.
- `intensity_curve`: the keyframes read at each second's centre (flat outside them), or None.
- `placed_sections`: the user's named sections with each start moved to the nearest bar line.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cuescore.analysis.features import VideoFeatures
from cuescore.controls import Controls
from cuescore.directives import IGNORE_TOLERANCE, VideoControl
from cuescore.errors import OptionError
from cuescore.music.plan import Section

WEIGHTED = ("colour", "motion", "emotion")
"""Features with a per-second factor; `area` weights only reshape region shares."""


def directed(features: VideoFeatures, controls: Controls) -> VideoFeatures:
    """`features` with the `video_control` weights folded in (`fold_weights`; shots as detected)
    and without the transitions within `IGNORE_TOLERANCE` s of an ignored cut time or of a hit
    (the hit takes the cut's place); `OptionError` for a directed time outside the video or a
    shot/region the analysis lacks."""
    controls.check_duration(float(features.duration))
    check_indices(features, controls.video_controls)
    features = fold_weights(features, controls.video_controls)
    ignored = np.asarray(controls.ignored_cuts + controls.hit_times, float)
    if ignored.size == 0:
        return features
    kept = [tr for tr in features.transitions if np.min(np.abs(ignored - tr.time)) > IGNORE_TOLERANCE + 1e-9]
    return dataclasses.replace(features, transitions=kept)


def with_global_weights(controls: Controls) -> Controls:
    """`controls` with every `*,*,FEATURE,W` entry multiplied into its `weight_FEATURE` (capped at
    2), so such an entry is exactly the global flag; `*,*,area,W` changes nothing (areas only
    matter relative to each other)."""
    changes = {}
    for feature in WEIGHTED:
        factor = _factor(controls.video_controls, -1, None, feature, whole_video=True)
        if factor != 1.0:
            name = f"weight_{feature}"
            changes[name] = min(2.0, getattr(controls, name) * factor)
    return controls.replace(**changes) if changes else controls


def shot_edges(features: VideoFeatures) -> list[float]:
    """Start times of the detected shots (0 and every transition): shot k starts at edges[k]."""
    return [0.0] + [t for t in features.cuts if 0.0 < t < features.duration]


def check_indices(features: VideoFeatures, controls: tuple[VideoControl, ...]) -> None:
    """`OptionError` for a `video_control` naming a shot or region the analysis did not find."""
    shots = len(shot_edges(features))
    for c in controls:
        if c.shot is not None and c.shot >= shots:
            raise OptionError(f"option video_control: shot {c.shot} does not exist; allowed: 0..{shots - 1} "
                              f"(the video has {shots} shots) or *")
        if c.region is None:
            continue
        counts = [len(features.regions[s]["regions"]) if s < len(features.regions) else 0
                  for s in ([c.shot] if c.shot is not None else range(shots))]
        if c.region >= min(counts):
            found = "no regions (analyse the video again)" if min(counts) == 0 else f"{min(counts)} regions"
            raise OptionError(f"option video_control: region {c.region} does not exist; allowed: "
                              f"0..{max(min(counts) - 1, 0)} or * (a shot has {found})")


def _factor(controls: tuple[VideoControl, ...], shot: int, region: int | None, feature: str,
            whole_video: bool = False) -> float:
    """Product of the weights of the entries for `feature` that name exactly `region` and `shot`
    (any shot; with `whole_video`, the `*,*` entries only, which the others leave out)."""
    out = 1.0
    for c in controls:
        if c.feature != feature or c.region != region:
            continue
        if (c.shot is None and region is None) != whole_video:
            continue
        if whole_video or c.shot in (None, shot):
            out *= c.weight
    return out


def _region_factor(features: VideoFeatures, controls: tuple[VideoControl, ...], shot: int, feature: str) -> float:
    """The shot's weight from its regions' own entries: Σ share_r × weight_r (1 without such entries)."""
    if not any(c.region is not None and c.shot in (None, shot) for c in controls):
        return 1.0
    regions = features.regions[shot]["regions"]
    area = np.array([r["area"] * _factor(controls, shot, i, "area") for i, r in enumerate(regions)], float)
    if feature == "motion":
        area = area * np.array([r["motion"] for r in regions], float)
    share = area / area.sum() if area.sum() > 0 else np.full(len(regions), 1.0 / len(regions))
    weights = np.array([_factor(controls, shot, i, feature) for i in range(len(regions))], float)
    return float(share @ weights)


def shot_factors(features: VideoFeatures, controls: tuple[VideoControl, ...]) -> dict[str, np.ndarray]:
    """Feature ("colour", "motion", "emotion") → per-second factor [T] from the `video_control`
    entries (1 where none applies; products of 0-2 weights)."""
    T = features.T
    edges = shot_edges(features)
    shot_of = np.searchsorted(np.asarray(edges), np.arange(T) + 0.5, side="right") - 1
    out = {}
    for feature in WEIGHTED:
        per_shot = [_factor(controls, s, None, feature) * _region_factor(features, controls, s, feature)
                    for s in range(len(edges))]
        out[feature] = np.asarray(per_shot, float)[shot_of]
    return out


def _toward(values: np.ndarray, neutral: float | np.ndarray, factor: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """`neutral + factor × (values − neutral)` per row, clipped to [lo, hi]."""
    v = np.asarray(values, float)
    f = factor.reshape(-1, *([1] * (v.ndim - 1)))
    return np.clip(neutral + f * (v - neutral), lo, hi)


def fold_weights(features: VideoFeatures, controls: tuple[VideoControl, ...]) -> VideoFeatures:
    """The features with each second's `video_control` factor folded in, so every decision read
    from them follows it: motion and flow move toward the clip's mean (visual beats scale too),
    valence, arousal and the emotion distribution toward neutral, brightness toward the clip's
    mean and saturation and colourfulness toward 0 (a shot's colour stops voting for the key)."""
    if all(c.shot is None and c.region is None for c in controls):  # only global entries: nothing to fold
        return features
    f = shot_factors(features, controls)
    m, e, c = f["motion"], f["emotion"], f["colour"]
    beat_rows = np.clip(np.asarray(features.beat_times, int), 0, features.T - 1)
    emotion = _toward(features.emotion, 1.0 / features.emotion.shape[1], e, 0.0, 1.0)
    return dataclasses.replace(
        features,
        motion=_toward(features.motion, float(np.mean(features.motion)), m, 0.0, np.inf),
        flow=_toward(features.flow, float(np.mean(features.flow)), m, 0.0, np.inf),
        beat_strengths=np.asarray(features.beat_strengths, float) * m[beat_rows],
        valence=_toward(features.valence, 0.0, e, -1.0, 1.0), arousal=_toward(features.arousal, 0.0, e, -1.0, 1.0),
        emotion=emotion / emotion.sum(axis=1, keepdims=True),
        brightness=_toward(features.brightness, float(np.mean(features.brightness)), c, 0.0, 1.0),
        saturation=_toward(features.saturation, 0.0, c, 0.0, 1.0),
        colorfulness=_toward(features.colorfulness, 0.0, c, 0.0, 1.0),
    )


def intensity_curve(controls: Controls, T: int) -> np.ndarray | None:
    """The keyframed intensity at each second's centre [T], 0-1; None without keyframes."""
    frames = controls.intensity_keyframes
    if not frames:
        return None
    times, levels = zip(*frames)
    return np.interp(np.arange(T) + 0.5, times, levels)


def placed_sections(controls: Controls, downbeats: list[float], duration: float) -> list[Section] | None:
    """The user's sections, each start on the nearest downbeat (the first at 0 s; marks that
    land on the same bar keep the later label); None when the user placed none."""
    marks = controls.section_marks
    if not marks:
        return None
    bars = np.asarray(downbeats if downbeats else [0.0], float)
    starts: dict[float, str] = {}
    for i, (t, label) in enumerate(marks):
        start = 0.0 if i == 0 else float(bars[np.argmin(np.abs(bars - t))])
        starts[start] = label
    times = sorted(t for t in starts if t < duration)
    ends = times[1:] + [duration]
    return [Section(s, e, starts[s]) for s, e in zip(times, ends) if e > s]
