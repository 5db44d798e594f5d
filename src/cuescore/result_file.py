"""OUT.json as a result file that can be loaded back: what reproducing or editing a result needs.

`score_video` adds `reproduction_record` to OUT.json: a format tag, the engine, its resolved
options, the video's fingerprint (size in bytes and duration) and, when the engine wrote a score,
the score itself with its exact note times (a MIDI file rounds them to ticks). With the controls
(every field of `Controls`) and the SoundFont already there, `load_result` rebuilds what made the
audio: `cuescore generate VIDEO --from-plan OUT.json` renders the recorded score again, bit for
bit, and `cuescore regenerate` edits a range of it. The analysed features are not stored beyond
the per-second emotion, motion and arousal: the video is analysed again when they are needed.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cuescore.controls import CONTROLS, Controls
from cuescore.engines.base import Composition, EngineRecord
from cuescore.errors import CuescoreError, InputError
from cuescore.music.plan import Key, MusicPlan, TempoChange
from cuescore.music.score import ControlChange, Note, Score, Track

FORMAT = "cuescore-result"
FORMAT_VERSION = 1
DURATION_TOLERANCE = 1e-3
"""Seconds the probed duration of the video may differ from the recorded one."""


def video_fingerprint(video: str | os.PathLike, duration: float) -> dict[str, float]:
    """What identifies the video a result belongs to: its size in bytes and duration in seconds."""
    return {"size": os.path.getsize(video), "duration": round(float(duration), 6)}


def score_to_dict(score: Score) -> dict[str, Any]:
    """`score` as JSON-ready lists; float times are kept exactly (JSON floats round-trip)."""
    return {
        "duration": score.duration, "beats_per_bar": score.beats_per_bar,
        "key": None if score.key is None else score.key.name,
        "tempo_map": [[t.time, t.bpm] for t in score.tempo_map],
        "tracks": [{"name": t.name, "program": t.program, "is_drum": t.is_drum, "volume": t.volume, "pan": t.pan,
                    "notes": [[n.pitch, n.start, n.end, n.velocity] for n in t.notes],
                    "controls": [[c.time, c.number, c.value] for c in t.controls]} for t in score.tracks],
    }


def score_from_dict(data: dict[str, Any]) -> Score:
    """The `Score` written by `score_to_dict`."""
    tracks = [Track(t["name"], int(t["program"]), bool(t["is_drum"]),
                    [Note(int(p), float(s), float(e), int(v)) for p, s, e, v in t["notes"]],
                    [ControlChange(float(time), int(number), int(value)) for time, number, value in t["controls"]],
                    int(t["volume"]), int(t["pan"])) for t in data["tracks"]]
    return Score(tracks, [TempoChange(float(t), float(b)) for t, b in data["tempo_map"]], float(data["duration"]),
                 None if data["key"] is None else Key.parse(data["key"]), int(data["beats_per_bar"]))


def reproduction_record(engine: str, engine_options: dict[str, Any], video: Path, duration: float,
                        score: Score | None) -> dict[str, Any]:
    """The fields `score_video` adds to OUT.json so that `load_result` can rebuild the result."""
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "engine": engine,
            "engine_options": dict(engine_options), "video_fingerprint": video_fingerprint(video, duration),
            "score": None if score is None else score_to_dict(score)}


@dataclass
class ResultFile:
    """A loaded OUT.json: the video it scored, the controls, the engine and its options, the plan
    and score (None for an engine that wrote audio), the SoundFont that rendered the score, the
    per-second `emotion` / `motion` / `arousal` lists, and the raw `data`."""

    path: Path
    video: Path
    controls: Controls
    engine: str
    engine_options: dict[str, Any]
    plan: MusicPlan | None
    score: Score | None
    soundfont: Path | None
    fingerprint: dict[str, float]
    features: dict[str, list] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return float(self.fingerprint["duration"])

    def check_video(self, video: str | os.PathLike | None = None, duration: float | None = None) -> Path:
        """`video` (default: the recorded one) if it is the video this result belongs to;
        InputError when it is missing or differs in size or (given the probed `duration`) length."""
        path = Path(video) if video is not None else self.video
        if not path.is_file():
            raise InputError(f"{path}: the video of {self.path.name} is missing; give its new path")
        size = os.path.getsize(path)
        if size != self.fingerprint["size"] or (
                duration is not None and abs(duration - self.duration) > DURATION_TOLERANCE):
            raise InputError(f"{self.path.name} belongs to another video ({self.fingerprint['size']:.0f} bytes, "
                             f"{self.duration:.2f} s); {path} has {size} bytes"
                             + ("" if duration is None else f", {duration:.2f} s"))
        return path

    def reproducing_controls(self) -> Controls:
        """The controls with the SoundFont fixed to the file that rendered the score (an `auto`
        choice could find another bank today); InputError when that file is gone."""
        if self.soundfont is None:
            return self.controls
        if not self.soundfont.is_file():
            raise InputError(f"{self.soundfont}: the SoundFont that rendered {self.path.name} is missing; "
                             "install it again to reproduce the result")
        return self.controls.replace(soundfont=str(self.soundfont))


def load_result(path: str | os.PathLike) -> ResultFile:
    """Load OUT.json written by `score_video`. InputError (one line) when the file is missing, is
    not JSON, is not a cuescore result (or one too old to hold what reproduction needs), or holds
    controls this version does not know."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such result file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a cuescore result (not readable JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path}: not a cuescore result (no \"format\": \"{FORMAT}\"; results written before "
                         "this version cannot be reproduced: generate again)")
    if data.get("format_version", 0) > FORMAT_VERSION:
        raise InputError(f"{path}: written by a newer cuescore (format {data['format_version']}); update cuescore")
    try:
        return _parse(path, data)
    except CuescoreError as exc:
        raise InputError(f"{path}: its controls are not valid here ({exc})") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not a cuescore result (malformed: {type(exc).__name__}: {exc})") from None


def _parse(path: Path, data: dict[str, Any]) -> ResultFile:
    unknown = sorted(set(data["controls"]) - set(CONTROLS))
    if unknown:
        raise InputError(f"{path}: written with controls this cuescore does not know ({', '.join(unknown)}); "
                         "update cuescore")
    controls = Controls.from_options(**data["controls"])
    plan = MusicPlan.from_dict(data) if "tempo_map" in data else None
    score = score_from_dict(data["score"]) if data.get("score") is not None else None
    bank = data.get("soundfont")
    fingerprint = {k: float(data["video_fingerprint"][k]) for k in ("size", "duration")}
    if not all(math.isfinite(v) for v in fingerprint.values()):
        raise ValueError("video_fingerprint is not finite")
    return ResultFile(path, Path(data["video"]), controls, str(data["engine"]), dict(data["engine_options"]), plan,
                      score, None if bank is None else Path(bank["path"]), fingerprint,
                      {k: data.get(k, []) for k in ("emotion", "motion", "arousal")}, data)


@dataclass
class StoredRecord(EngineRecord):
    """An engine's record as OUT.json holds it (a dict), for a composition rebuilt from a result."""

    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)


def stored_composition(result: ResultFile) -> Composition | None:
    """The recorded plan and score as a `Composition` (None when the engine wrote audio: it is not stored)."""
    if result.score is None:
        return None
    return Composition(result.plan, result.score, None, StoredRecord(result.data.get("engine_record") or {}))
