"""`build_dataset`: a folder of music videos → a training set in the MuVi-Sync layout.

For each video: probe it; skip it (with a warning naming it and the reason, kept in the report) when
it cannot be read, has no audio track, or its audio is silent; analyse the frames in one decoding
pass (`cuescore.analysis.analyze`, encoder loaded once for all videos); label its own soundtrack
per second (`cuescore.data.audio_labels`: chords, key, loudness, note density); write both through
`write_muvisync_example`. Chords are written as MuVi-Sync's `lab_v2_norm` has them: transposed to
C major or A minor, with that key on the first line (the detected key is kept in `sources.tsv`).

Video ids: "number" (default) numbers the written videos like MuVi-Sync (`001`, `002`, ...; at
least three digits), continuing after the highest numeric id already in the root, so a second
build adds to the first. "stem" uses each file's name without extension (characters outside
letters, digits, `.`, `_`, `-` become `_`; a repeated stem gets `-2`, `-3`); rebuilding then
replaces those videos in place.

Splits: the ids written by one build are shuffled with `seed` and cut into train/val/test by the
`split` fractions (largest remainder, so 10 videos at 0.8/0.1/0.1 give 8/1/1); ids already listed
in a split of the root keep it. All three `vevo_meta/split/v1/*.txt` files exist afterwards.
`vevo_meta/sources.tsv` maps each id to its source file, detected key and length.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from tqdm import tqdm

from cuescore.analysis import analyze
from cuescore.analysis.encoders import SemanticEncoder, get_encoder
from cuescore.analysis.features import VideoFeatures
from cuescore.data.audio_labels import ANALYSIS_RATE, AudioLabels, label_audio, resolve_density_method
from cuescore.data.muvisync import (
    CHORD_DIR,
    META_DIR,
    SPLITS,
    add_to_split,
    read_split,
    split_file,
    write_muvisync_example,
)
from cuescore.errors import CuescoreError, InputError, OptionError
from cuescore.fileio import atomic_path, ensure_writable_dir
from cuescore.media import probe, read_audio_track

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".flv",
                            ".wmv"})
"""File endings taken from a folder (case-insensitive); files named explicitly are always tried."""
ID_STYLES = ("number", "stem")
SOURCES_FILE = "sources.tsv"
SILENT_PEAK = 1e-4
"""An audio track whose peak stays under this (-80 dBFS) counts as silent."""


@dataclass
class BuildReport:
    """What one build did. seconds: rows written per feature (the sum of the videos' T)."""

    root: Path
    written: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    splits: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SPLITS})
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: int = 0
    density_method: str = ""

    def summary(self) -> str:
        """A few lines for people: counts, splits, and each skipped file with its reason."""
        counts = ", ".join(f"{s} {len(ids)}" for s, ids in self.splits.items())
        n = len(self.written)
        lines = [f"{self.root}: {n} video{'' if n == 1 else 's'} written ({self.seconds} s of data; by split: "
                 f"{counts}; note density by {self.density_method or 'n/a'}), {len(self.skipped)} skipped"]
        lines += [f"  skipped {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


def collect_videos(videos: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Expand folders into their video files (sorted by name, not recursive); keep files as given.

    Duplicates are dropped. `InputError` when nothing is left.
    """
    items = [videos] if isinstance(videos, (str, os.PathLike)) else list(videos)
    out: list[Path] = []
    seen: set[Path] = set()
    for item in items:
        path = Path(item)
        if not path.is_dir():
            found = [path]
        else:
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
            if not found:
                log.warning("%s: no video files (%s) in this folder", path, ", ".join(sorted(VIDEO_SUFFIXES)))
        for p in found:
            if p.resolve() not in seen:
                seen.add(p.resolve())
                out.append(p)
    if not out:
        raise InputError("no videos to build from; give video files or folders that hold them")
    return out


def split_counts(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    """How many of `n` videos go to train, val and test (largest remainder; fractions are normalised).

    A positive val fraction gets at least one video once there are two (training needs one)."""
    f = np.asarray(fractions, np.float64)
    if f.shape != (3,) or not np.all(np.isfinite(f)) or np.any(f < 0) or f.sum() <= 0:
        raise OptionError(f"split must be three non-negative fractions (train, val, test), got {fractions!r}")
    share = n * f / f.sum()
    counts = np.floor(share).astype(int)
    for i in np.argsort(-(share - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    if counts[1] == 0 and f[1] > 0 and counts.max() > 1:
        counts[1], counts[int(np.argmax(counts))] = 1, counts.max() - 1  # training needs a validation video
    return int(counts[0]), int(counts[1]), int(counts[2])


def assign_splits(ids: list[str], fractions: tuple[float, float, float], seed: int) -> dict[str, str]:
    """id → split: `ids` shuffled by `seed`, then cut by `split_counts`. Same ids and seed, same answer."""
    order = [ids[i] for i in np.random.default_rng(seed).permutation(len(ids))]
    n_train, n_val, _ = split_counts(len(ids), fractions)
    return {vid: ("train" if k < n_train else "val" if k < n_train + n_val else "test") for k, vid in enumerate(order)}


def stem_id(path: Path) -> str:
    """A video id from a file name: its stem with characters outside [A-Za-z0-9._-] replaced by `_`."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", path.stem).lstrip("._-")
    return name or "video"


def _numeric_ids(root: Path) -> list[int]:
    names = [p.stem for p in (root / CHORD_DIR).glob("*.lab")]
    names += [vid for s in SPLITS if split_file(root, s).is_file() for vid in read_split(root, s)]
    return [int(n) for n in names if n.isdigit()]


class _IdMaker:
    """Hands out ids in the chosen style, never the same one twice in a build."""

    def __init__(self, style: str, root: Path) -> None:
        if style not in ID_STYLES:
            raise OptionError(f"ids must be one of {', '.join(ID_STYLES)}, got {style!r}")
        self.style = style
        self.next_number = max(_numeric_ids(root), default=0) + 1
        self.used: set[str] = set()

    def __call__(self, path: Path) -> str:
        if self.style == "number":
            vid = f"{self.next_number:03d}"
            self.next_number += 1
        else:
            base, k = stem_id(path), 1
            vid = base
            while vid in self.used:
                k += 1
                vid = f"{base}-{k}"
        self.used.add(vid)
        return vid


def label_video(path: Path, encoder: SemanticEncoder, density: str) -> tuple[VideoFeatures, AudioLabels]:
    """Analyse one video and label its soundtrack; `InputError` (with the reason) for a video to skip."""
    info = probe(path)
    if not info.has_audio:
        raise InputError(f"{path}: has no audio track; the music labels are made from it")
    audio = read_audio_track(path, ANALYSIS_RATE, 1, align_to=info.start_time)
    if audio.samples.size == 0 or float(np.abs(audio.samples).max()) < SILENT_PEAK:
        raise InputError(f"{path}: the audio track is silent; the music labels are made from it")
    features = analyze(path, encoder=encoder, info=info)
    return features, label_audio(audio, T=features.T, density=density)


def _write_sources(root: Path, rows: dict[str, tuple[str, str, int]]) -> None:
    """Merge `rows` (id → source, key, seconds) into `vevo_meta/sources.tsv`."""
    path = root / META_DIR / SOURCES_FILE
    table: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            if line.strip():
                table[line.split("\t", 1)[0]] = line
    for vid, (source, key, seconds) in rows.items():
        table[vid] = f"{vid}\t{source}\t{key}\t{seconds}"
    ensure_writable_dir(path.parent)
    with atomic_path(path) as tmp:
        tmp.write_text("id\tsource\tkey\tseconds\n" + "".join(f"{table[k]}\n" for k in sorted(table)), encoding="utf-8")


def build_dataset(
    videos: str | os.PathLike | Iterable[str | os.PathLike],
    root: str | os.PathLike,
    *,
    encoder: str = "handcrafted",
    device: str = "auto",
    split: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    progress: bool = True,
    density: str = "auto",
    ids: str = "number",
) -> BuildReport:
    """Turn music videos (files and/or folders) into MuVi-Sync training data under `root`.

    encoder: semantic encoder spec ("handcrafted" or "clip:<folder or hub id>"); device: for learned
    encoders. split: train/val/test fractions. seed: of the split assignment. density: note-density
    method ("auto", "basic-pitch", "onsets"). ids: "number" or "stem" (see the module docstring).
    Options are checked before any video is read; unreadable or unsuitable videos are skipped.
    """
    split_counts(0, split)
    method = resolve_density_method(density)
    make_id = _IdMaker(ids, Path(root))
    paths = collect_videos(videos)
    enc = get_encoder(encoder, device=device)
    created = not Path(root).exists()
    out = ensure_writable_dir(root)
    report = BuildReport(root=out, density_method=method)
    sources: dict[str, tuple[str, str, int]] = {}
    bar = tqdm(paths, unit="video", desc="dataset", disable=None if progress else True)
    try:
        for path in bar:
            bar.set_postfix_str(path.name, refresh=False)
            try:
                features, labels = label_video(path, enc, method)
            except CuescoreError as exc:
                reason = str(exc).removeprefix(f"{path}: ")
                log.warning("skipping %s: %s", path, reason)
                report.skipped.append((str(path), reason))
                continue
            vid = make_id(path)
            chords, key = labels.normalized()
            write_muvisync_example(out, vid, features, chords, key, labels.loudness, labels.note_density)
            report.written.append(vid)
            report.sources[vid] = str(path)
            report.keys[vid] = labels.key.name
            report.seconds += features.T
            sources[vid] = (path.name, labels.key.name, features.T)
    finally:
        bar.close()
        if report.written:
            _register(out, report, sources, split, seed)
        elif created and not any(out.iterdir()):
            out.rmdir()
    return report


def _register(out: Path, report: BuildReport, sources: dict[str, tuple[str, str, int]],
              split: tuple[float, float, float], seed: int) -> None:
    """Put every written example in a split (existing ids keep theirs) and list its source; also
    runs after an interruption, so nothing written is left out of the splits."""
    listed = {vid: s for s in SPLITS if split_file(out, s).is_file() for vid in read_split(out, s)}
    assigned = assign_splits([vid for vid in report.written if vid not in listed], split, seed)
    for vid in report.written:
        if vid in assigned:
            add_to_split(out, vid, assigned[vid])
        report.splits[listed.get(vid) or assigned[vid]].append(vid)
    for name in SPLITS:
        if not split_file(out, name).is_file():
            ensure_writable_dir(split_file(out, name).parent)
            split_file(out, name).write_text("", encoding="utf-8")
    _write_sources(out, sources)


__all__ = ["BuildReport", "ID_STYLES", "assign_splits", "build_dataset", "collect_videos", "label_video",
           "split_counts", "stem_id"]
