"""The timeline figure: why the music changes where it does, on one time axis.

Video features from OUT.json (emotion class probabilities, valence and arousal, motion, with the
cuts drawn through every panel) sit above the music (tempo, beats and downbeats, chords, note
density, energy with the intensity curve it followed, and the loudness of OUT.wav per second); the
user's hit points are solid lines through every panel. `cuescore plot` and the web page both draw
it with `timeline_figure`. matplotlib (Agg backend, no display needed) is imported on first use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cuescore.analysis.features import EMOTIONS
from cuescore.errors import OutputError
from cuescore.evaluation.correspondence import read_result_json
from cuescore.fileio import atomic_path, check_output_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PANELS = ("emotion", "valence / arousal", "motion", "tempo / BPM", "beats", "chords", "density / per bar",
          "energy / per bar", "loudness / dBFS")
"""The figure's panels, top to bottom: three video rows, then six music rows."""

_REQUIRED = ("duration", "emotion", "motion", "arousal", "cuts")
_EMOTION_COLOURS = ("#e4572e", "#6c3483", "#f3a712", "#2e86c1", "#29a36a", "#aab7b8")
_SILENCE_DB = -80.0


def load_result(path: str | os.PathLike) -> dict[str, Any]:
    """OUT.json of `cuescore generate` as a dict, with what the timeline draws; InputError otherwise."""
    return read_result_json(path, _REQUIRED)


def result_wav(data: dict[str, Any], json_path: str | os.PathLike) -> Path | None:
    """The result's WAV: the path recorded in OUT.json, else OUT.wav beside the JSON; None if neither exists."""
    recorded = data.get("outputs", {}).get("wav")
    for candidate in (recorded, Path(json_path).with_suffix(".wav")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def loudness_per_second(wav: str | os.PathLike) -> np.ndarray:
    """RMS level of each second of `wav` (channels mixed), dBFS [ceil(seconds)], read in one-second blocks."""
    import soundfile as sf

    info = sf.info(str(wav))
    levels = []
    for block in sf.blocks(str(wav), blocksize=info.samplerate, dtype="float32", always_2d=True):
        rms = float(np.sqrt(np.mean(block.mean(axis=1) ** 2))) if len(block) else 0.0
        levels.append(max(20.0 * np.log10(rms), _SILENCE_DB) if rms > 0 else _SILENCE_DB)
    return np.asarray(levels, np.float32)


def _steps(ax: Axes, values: Any, **style: Any) -> None:
    """Per-second values drawn as steps: row i covers [i, i + 1) seconds."""
    values = np.asarray(values, np.float64)
    if len(values):
        ax.step(np.arange(len(values) + 1), np.append(values, values[-1]), where="post", **style)


def _per_bar(ax: Axes, values: Any, downbeats: list[float], duration: float, **style: Any) -> None:
    """Per-bar values (the plan's density and energy) drawn as steps from each downbeat to the next."""
    n = min(len(values), len(downbeats))
    if n:
        edges = [*downbeats[:n], downbeats[n] if len(downbeats) > n else duration]
        ax.step(edges, [*values[:n], values[n - 1]], where="post", **style)


def _absent(ax: Axes, why: str) -> None:
    ax.text(0.5, 0.5, why, transform=ax.transAxes, ha="center", va="center", color="grey", fontsize=8)
    ax.set_yticks([])


def _video_panels(axes: list[Axes], data: dict[str, Any]) -> None:
    emotion = np.asarray(data["emotion"], np.float64).reshape(-1, len(EMOTIONS))
    x = np.arange(len(emotion)) + 0.5
    axes[0].stackplot(x, emotion.T, labels=EMOTIONS, colors=_EMOTION_COLOURS, step="mid")
    axes[0].set_ylim(0, 1)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    if "valence" in data:
        _steps(axes[1], data["valence"], label="valence", color="#29a36a")
    _steps(axes[1], data["arousal"], label="arousal", color="#e4572e")
    axes[1].set_ylim(-1.05, 1.05)
    axes[1].axhline(0, color="grey", lw=0.5)
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    _steps(axes[2], data["motion"], color="#2e86c1")


def _music_panels(axes: list[Axes], data: dict[str, Any], duration: float) -> None:
    if "tempo_map" not in data:
        for ax in axes:
            _absent(ax, "no score: this engine wrote the audio itself")
        return
    changes = data["tempo_map"]
    times = [c["time"] for c in changes] + [duration]
    bpm = [c["bpm"] for c in changes]
    axes[0].step(times, bpm + bpm[-1:], where="post", color="#6c3483")
    axes[1].vlines(data.get("beats", []), 0, 0.5, color="#555555", lw=0.8)
    axes[1].vlines(data.get("downbeats", []), 0, 1, color="#111111", lw=1.4)
    axes[1].set_ylim(0, 1)
    axes[1].set_yticks([])
    for i, chord in enumerate(data.get("chords", [])):
        width = chord["end"] - chord["start"]
        axes[2].broken_barh([(chord["start"], width)], (0, 1), color=("#d6eaf8", "#fdebd0")[i % 2])
        if width >= duration / 60:
            axes[2].text(chord["start"] + width / 2, 0.5, chord["label"], ha="center", va="center", fontsize=7)
    axes[2].set_yticks([])
    bars = list(data.get("downbeats", []))
    _per_bar(axes[3], data.get("density", []), bars, duration, color="#f3a712")
    axes[3].set_ylim(-0.2, 4.2)
    _per_bar(axes[4], data.get("energy", []), bars, duration, color="#e4572e", label="energy")
    axes[4].set_ylim(-0.05, 1.05)
    _intensity(axes[4], data)


def _intensity(ax: Axes, data: dict[str, Any]) -> None:
    """The per-second intensity curve (0-1) the energy followed, in the energy panel: the user's
    keyframes (`--intensity`) or the curve derived from the video."""
    if not data.get("intensity"):
        return
    given = bool(data.get("controls", {}).get("intensity"))
    _steps(ax, data["intensity"], color="#1b4f72", lw=1.6 if given else 0.9, ls="-" if given else ":",
           label="intensity keyframes" if given else "intensity (video)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)


def _hits(axes: list[Axes], hits: list[float]) -> None:
    """The user's hit points: a solid line through every panel, marked with a triangle on top."""
    if not hits:
        return
    for ax in axes:
        for hit in hits:
            ax.axvline(hit, color="#117a65", lw=1.6, alpha=0.9)
    axes[0].plot(hits, [1.0] * len(hits), "v", color="#117a65", ms=8, clip_on=False,
                 transform=axes[0].get_xaxis_transform(), label="hit points")


def timeline_figure(data: dict[str, Any], wav: str | os.PathLike | None = None) -> Figure:
    """The timeline of a result (`load_result`): one axes per `PANELS` entry, sharing the time
    axis in seconds; `wav` (OUT.wav) gives the loudness row (left empty without it)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    duration = float(data["duration"])
    fig = Figure(figsize=(12, 9), layout="constrained")
    axes = fig.subplots(len(PANELS), 1, sharex=True, height_ratios=(1.4, 1, 1, 1, 0.5, 0.6, 1, 1, 1))
    _video_panels(axes[:3], data)
    _music_panels(axes[3:8], data, duration)
    if wav is not None:
        _steps(axes[8], loudness_per_second(wav), color="#1b4f72")
    else:
        _absent(axes[8], "OUT.wav not found")
    for ax, name in zip(axes, PANELS):
        ax.set_ylabel(name.replace(" / ", "\n"), fontsize=8, rotation=0, ha="right", va="center")
        ax.tick_params(labelsize=7)
        for cut in data["cuts"]:
            ax.axvline(cut, color="#c0392b", lw=0.9, ls="--", alpha=0.7)
    hits = list(data.get("hits", []))
    _hits(list(axes), hits)
    axes[-1].set_xlim(0, duration)
    axes[-1].set_xlabel("time (s); dashed red lines: cuts" + ("; solid green lines ▼: hit points" if hits else ""))
    fig.suptitle(f"video features (top) and the music they shaped (bottom): {_title(data)}", fontsize=10)
    return fig


def _title(data: dict[str, Any]) -> str:
    parts = [Path(str(data.get("video", ""))).name or "result", str(data.get("engine", ""))]
    if "key" in data and "tempo_bpm" in data:
        parts.append(f"{data['key']}, {float(data['tempo_bpm']):.0f} BPM")
    return ", ".join(p for p in parts if p)


def plot_timeline(result: str | os.PathLike, out: str | os.PathLike, dpi: int = 100) -> Path:
    """Draw the timeline of OUT.json `result` into the PNG `out` (written atomically)."""
    data = load_result(result)
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise OutputError(f"{out}: the timeline is a PNG image; name the output .png")
    check_output_path(out)
    fig = timeline_figure(data, result_wav(data, result))
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=dpi)
    return out
