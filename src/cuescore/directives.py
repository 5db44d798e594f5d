"""Directing the music: hit points, intensity keyframes, named sections and per-shot/per-region
feature weights, parsed from text as typed on a command line or in a form.

Stdlib only (imported by `controls`, which `--help` loads). Each parser takes the text and returns
plain tuples; it raises `ValueError` with a short reason that `controls` turns into one
`OptionError` line. Times are seconds or `m:ss.ss` (minutes:seconds). The canonical text of each
directive (`canonical_*`) is what `Controls` stores, so a result's recorded controls reproduce it
without the files or spellings the user typed.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

VIDEO_FEATURES = ("colour", "motion", "area", "emotion")
"""What a `--video-control` weight scales (colour: key and mode; motion: density, drive and accents;
emotion: energy, drive and mode; area: how much a region's size sets its share of its shot)."""
MUSIC_FEATURES = ("pitch", "rhythm", "dynamics")
"""What a `--music-control` weight scales (pitch: melody contour and register following the picture;
rhythm: note density following motion; dynamics: loudness following arousal)."""
WEIGHT_RANGE = (0.0, 2.0)
MIN_HIT_GAP = 1.0
"""Seconds: hit points closer than this cannot each own a downbeat."""
IGNORE_TOLERANCE = 0.25
"""Seconds: `--ignore-cuts T` drops the detected cuts within this distance of T."""
_ALIASES = {"color": "colour"}


@dataclass(frozen=True)
class VideoControl:
    """Scale `feature`'s influence by `weight` in shot `shot` (None = every shot) and its region
    `region` (None = the whole shot)."""

    shot: int | None
    region: int | None
    feature: str
    weight: float


def parse_time(text: str) -> float:
    """Seconds from "12.3" or "1:05.5" (minutes:seconds); ValueError if neither."""
    raw = text.strip()
    minutes, _, seconds = raw.rpartition(":")
    try:
        value = float(seconds) + (60.0 * int(minutes) if minutes else 0.0)
        if minutes and not 0 <= float(seconds) < 60:
            raise ValueError
    except ValueError:
        raise ValueError(f"{raw!r} is not a time (seconds like 12.3 or minutes:seconds like 1:05.5)") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{raw!r} is not a time at or after 0 s")
    return value


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.replace(";", ",").split(",") if item.strip()]


def parse_times(text: str) -> tuple[float, ...]:
    """Sorted distinct times from "12.3,1:05.5"."""
    return tuple(sorted({round(parse_time(item), 6) for item in _items(text)}))


def parse_hits(text: str) -> tuple[float, ...]:
    """Hit points: times at least `MIN_HIT_GAP` seconds apart."""
    hits = parse_times(text)
    for a, b in zip(hits, hits[1:]):
        if b - a < MIN_HIT_GAP:
            raise ValueError(f"hits {fmt(a)} and {fmt(b)} are {b - a:.2f} s apart; allowed: at least "
                             f"{fmt(MIN_HIT_GAP)} s between hits")
    return hits


def _pairs(text: str) -> list[tuple[str, str]]:
    """("time", "value") pairs from "0:0.3,20:1.0" or, when `text` names a file, from its CSV rows
    (a header row without numbers is skipped). The last ':' splits a pair, so "1:05:0.5" is 65 s."""
    if os.path.isfile(text.strip()):
        with open(text.strip(), newline="") as fh:
            rows = [[c.strip() for c in row] for row in csv.reader(fh) if any(c.strip() for c in row)]
        if rows and not _is_number(rows[0][-1]):
            rows = rows[1:]
        if any(len(row) != 2 for row in rows):
            raise ValueError(f"{text.strip()}: every row must be time,value")
        return [(row[0], row[1]) for row in rows]
    pairs = []
    for item in _items(text):
        time, sep, value = item.rpartition(":")
        if not sep or not time:
            raise ValueError(f"{item!r} is not TIME:VALUE")
        pairs.append((time, value))
    return pairs


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_keyframes(text: str) -> tuple[tuple[float, float], ...]:
    """(time s, level 0-1) keyframes from "0:0.3,20:1.0,35:0.4" or a CSV file of time,level rows;
    times strictly increasing."""
    frames = []
    for time, value in _pairs(text):
        t = parse_time(time)
        if not _is_number(value) or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"level {value!r} at {fmt(t)} s is outside 0..1")
        if frames and t <= frames[-1][0]:
            raise ValueError(f"keyframe time {fmt(t)} s does not come after {fmt(frames[-1][0])} s; "
                             "allowed: increasing times")
        frames.append((t, float(value)))
    if not frames:
        raise ValueError("no keyframes")
    return tuple(frames)


def parse_sections(text: str) -> tuple[tuple[float, str], ...]:
    """(start s, label) from "0:intro,8:build,24:climax"; starts strictly increasing, labels of
    letters, digits, '-' and '_'."""
    marks = []
    for time, label in _pairs(text):
        t = parse_time(time)
        if not label or not all(ch.isalnum() or ch in "-_" for ch in label):
            raise ValueError(f"section label {label!r} at {fmt(t)} s must be letters, digits, '-' or '_'")
        if marks and t <= marks[-1][0]:
            raise ValueError(f"section start {fmt(t)} s does not come after {fmt(marks[-1][0])} s; "
                             "allowed: increasing times")
        marks.append((t, label))
    if not marks:
        raise ValueError("no sections")
    return tuple(marks)


def _weight(text: str) -> float:
    lo, hi = WEIGHT_RANGE
    if not _is_number(text) or not lo <= float(text) <= hi:
        raise ValueError(f"weight {text!r} is outside {fmt(lo)}..{fmt(hi)}")
    return float(text)


def _feature(text: str, allowed: tuple[str, ...]) -> str:
    name = _ALIASES.get(text.strip().lower(), text.strip().lower())
    if name not in allowed:
        raise ValueError(f"feature {text.strip()!r} is not one of {', '.join(allowed)}")
    return name


def _index(text: str, what: str) -> int | None:
    if text.strip() == "*":
        return None
    if not text.strip().isdigit():
        raise ValueError(f"{what} {text.strip()!r} is not an index (0, 1, ...) or *")
    return int(text)


def parse_video_controls(text: str) -> tuple[VideoControl, ...]:
    """`VideoControl`s from "SHOT,REGION,FEATURE,WEIGHT" entries separated by ';'."""
    out = []
    for entry in (e.strip() for e in text.split(";") if e.strip()):
        parts = [p.strip() for p in entry.split(",")]
        if len(parts) != 4:
            raise ValueError(f"{entry!r} is not SHOT,REGION,FEATURE,WEIGHT")
        out.append(VideoControl(_index(parts[0], "shot"), _index(parts[1], "region"),
                                _feature(parts[2], VIDEO_FEATURES), _weight(parts[3])))
    return tuple(out)


def parse_music_controls(text: str) -> dict[str, float]:
    """Feature → weight from "FEATURE,WEIGHT" entries separated by ';' (a later entry wins)."""
    out: dict[str, float] = {}
    for entry in (e.strip() for e in text.split(";") if e.strip()):
        parts = [p.strip() for p in entry.split(",")]
        if len(parts) != 2:
            raise ValueError(f"{entry!r} is not FEATURE,WEIGHT")
        out[_feature(parts[0], MUSIC_FEATURES)] = _weight(parts[1])
    return out


def fmt(x: float) -> str:
    """A number as short text: 12, 12.5, 0.333333."""
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


def canonical(kind: str, text: str) -> str:
    """The canonical text of a directive of `kind` (what `Controls` stores); ValueError if malformed."""
    if kind == "hits":
        return ",".join(fmt(t) for t in parse_hits(text))
    if kind == "times":
        return ",".join(fmt(t) for t in parse_times(text))
    if kind == "keyframes":
        return ",".join(f"{fmt(t)}:{fmt(v)}" for t, v in parse_keyframes(text))
    if kind == "sections":
        return ",".join(f"{fmt(t)}:{label}" for t, label in parse_sections(text))
    if kind == "video_control":
        return ";".join(",".join(["*" if c.shot is None else str(c.shot), "*" if c.region is None else str(c.region),
                                  c.feature, fmt(c.weight)]) for c in parse_video_controls(text))
    if kind == "music_control":
        return ";".join(f"{name},{fmt(w)}" for name, w in parse_music_controls(text).items())
    raise KeyError(kind)
