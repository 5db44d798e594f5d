"""`build_dataset`: music videos → a training set in the MuVi-Sync layout, resumable and parallel.

For each video (a task that runs in any worker, `label_job`): probe it; fail it (with the reason,
kept in the manifest and the report) when it cannot be read, has no audio track, or its audio is
silent; analyse the frames in one decoding pass (`cuescore.analysis.analyze`, the encoder loaded
once per worker process); label its own soundtrack per second (`cuescore.data.audio_labels`:
chords, key, loudness, note density). The driver writes each result through
`write_muvisync_example` (every file atomically) and records it in `manifest.json`
(`cuescore.data.manifest`); a rerun skips what the manifest lists as complete and redoes the rest
(`force` redoes all). Chords are written as MuVi-Sync's `lab_v2_norm` has them: transposed to C
major or A minor, with that key on the first line (the detected key is kept in `sources.tsv`).
Logs: `logs/build.log` (one line per video) and `logs/worker-<host>-<pid>.log`.

Video ids come from the sorted input list (`cuescore.jobs.collect_videos`), never from the order
in which videos finish, so workers, backends and shards give the same ids. "number" (default)
numbers the videos like MuVi-Sync (`001`, `002`, ...; at least three digits) by position, after
the highest numeric id of other videos already in the root, so a second build adds to the first;
a video that failed keeps its number (a rerun that succeeds uses it). "stem" uses each file's name
without extension (characters outside letters, digits, `.`, `_`, `-` become `_`; a repeated stem
gets `-2`, `-3`); rebuilding then replaces those videos in place. A video the manifest knows keeps
its id.

Splits (`cuescore.data.manifest.register_splits`): when a run ends with no video pending, the new
ids are shuffled with `seed` and cut into train/val/test by the `split` fractions (largest
remainder, so 10 videos at 0.8/0.1/0.1 give 8/1/1; val gets one once there are two videos); ids
that have a split keep it. All three `vevo_meta/split/v1/*.txt` files exist afterwards.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from cuescore.analysis import analyze
from cuescore.analysis.encoders import SemanticEncoder, get_encoder
from cuescore.analysis.features import VideoFeatures
from cuescore.data.audio_labels import ANALYSIS_RATE, AudioLabels, label_audio, resolve_density_method
from cuescore.data.manifest import KIND, assign_splits, register_splits, split_counts
from cuescore.data.muvisync import CHORD_DIR, SPLITS, read_split, split_file, write_muvisync_example
from cuescore.errors import InputError, OptionError
from cuescore.jobs import (
    Manifest,
    Outcome,
    collect_videos,
    file_record,
    folder_lock,
    parse_shard,
    run_jobs,
    run_log,
    stem_id,
    stem_ids,
    write_worker_log,
)
from cuescore.media import probe, read_audio_track
from cuescore.music.plan import Key

log = logging.getLogger(__name__)

ID_STYLES = ("number", "stem")
SILENT_PEAK = 1e-4
"""An audio track whose peak stays under this (-80 dBFS) counts as silent."""


@dataclass
class BuildReport:
    """What one build did for its inputs. written: ids whose video is in the dataset (made now or
    by an earlier run; `reused` lists the latter); seconds: rows per feature (the sum of their T);
    skipped: (source, reason) of each video that failed; complete: False when interrupted."""

    root: Path
    written: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    splits: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SPLITS})
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: int = 0
    density_method: str = ""
    complete: bool = True

    def summary(self) -> str:
        """A few lines for people: counts, splits, and each failed video with its reason."""
        counts = ", ".join(f"{s} {len(ids)}" for s, ids in self.splits.items())
        n = len(self.written)
        lines = [f"{self.root}: {n} video{'' if n == 1 else 's'} written ({len(self.reused)} already complete; "
                 f"{self.seconds} s of data; by split: {counts}; note density by {self.density_method or 'n/a'}), "
                 f"{len(self.skipped)} skipped"]
        if self.complete and n and not self.splits["val"]:
            lines.append("  the val split is empty: training needs one; add videos or raise the val fraction")
        lines += [f"  skipped {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


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


@dataclass(frozen=True)
class VideoJob:
    """What a worker needs to label one video (picklable; the encoder is loaded once per process)."""

    path: str
    encoder: str
    device: str
    density: str
    music_model: str | None = None
    codec_encoder: str | None = None


@dataclass
class LabelledVideo:
    """A worker's result: the features and the soundtrack's labels, chords normalised to C major /
    A minor (`key` the normalised key, `source_key` the detected one)."""

    features: VideoFeatures
    chords: list[str]
    key: Key
    source_key: str
    loudness: np.ndarray
    note_density: np.ndarray
    pair: tuple | None = None
    """With codec pairs: (folder under `codec_pairs/`, FeatureSpec, tensors, metadata)."""


_ENCODERS: dict[tuple[str, str], SemanticEncoder] = {}


def _encoder(spec: str, device: str) -> SemanticEncoder:
    """The encoder `spec` on `device`, loaded once per process."""
    if (spec, device) not in _ENCODERS:
        _ENCODERS[(spec, device)] = get_encoder(spec, device=device)
    return _ENCODERS[(spec, device)]


def label_job(job: VideoJob) -> LabelledVideo:
    """The per-video task of a build (runs in a worker): `label_video`, chords normalised."""
    features, labels = label_video(Path(job.path), _encoder(job.encoder, job.device), job.density)
    chords, key = labels.normalized()
    pair = None
    if job.music_model:
        from cuescore.training.codec import codec_pair

        pair = codec_pair(job.path, job.music_model, job.codec_encoder)
    return LabelledVideo(features, chords, key, labels.key.name, labels.loudness, labels.note_density, pair)


def _existing_ids(root: Path, manifest: Manifest) -> set[str]:
    names = {p.stem for p in (root / CHORD_DIR).glob("*.lab")} | set(manifest.items)
    return names | {vid for s in SPLITS if split_file(root, s).is_file() for vid in read_split(root, s)}


def plan_ids(paths: list[Path], manifest: Manifest, style: str) -> list[str]:
    """The id of each video (see the module docstring): its recorded one, else from its position
    in `paths` ("number": after the highest number of other videos in the folder) or its name."""
    if style not in ID_STYLES:
        raise OptionError(f"ids must be one of {', '.join(ID_STYLES)}, got {style!r}")
    known = {e["source"]: vid for vid, e in manifest.items.items()}
    sources = [str(p.absolute()) for p in paths]
    if style == "stem":
        fresh = stem_ids(paths)
    else:
        ours = {known[src] for src in sources if src in known}
        others = [int(v) for v in _existing_ids(manifest.root, manifest) - ours if v.isdigit()]
        fresh = [f"{max(others, default=0) + i + 1:03d}" for i in range(len(paths))]
    ids = [known.get(src, vid) for src, vid in zip(sources, fresh)]
    clash = [vid for src, vid in zip(sources, ids) if style == "number" and
             manifest.items.get(vid, {}).get("source", src) != src]
    if clash or len(set(ids)) < len(ids):
        raise OptionError(f"{manifest.root}: video id {(clash or ids)[0]} would name two sources; build these "
                          "videos into a new folder")
    return ids


def _store(manifest: Manifest, outcome: Outcome, path: Path, log_run: logging.Logger, force: bool) -> None:
    """Write a finished video's example (or its failure) and record it in the manifest; a video
    redone because its files were damaged keeps its split (unless `force`)."""
    out, vid, source = manifest.root, outcome.key, str(path.absolute())
    split = {} if force else {k: v for k, v in manifest.items.get(vid, {}).items() if k == "split"}
    if outcome.ok:
        lv: LabelledVideo = outcome.value
        written = write_muvisync_example(out, vid, lv.features, lv.chords, lv.key, lv.loudness, lv.note_density)
        if lv.pair is not None:
            written["codec_pair"] = _write_pair(out, vid, lv.pair)
        manifest.record(vid, {"source": source, "status": "ok", "key": lv.source_key, "seconds": lv.features.T,
                              "outputs": file_record(out, written.values()), **split})
        log_run.info("%s ok: %s (%d s) in %.2f s by %s", vid, path, lv.features.T, outcome.seconds, outcome.worker)
    else:
        reason = outcome.reason.removeprefix(f"{path}: ")
        manifest.record(vid, {"source": source, "status": "failed", "reason": reason})
        log.warning("skipping %s: %s", path, reason)
        log_run.warning("%s failed: %s: %s", vid, path, reason)
    write_worker_log(out, outcome)


def _write_pair(out: Path, vid: str, pair: tuple) -> Path:
    """Write a video's codec pair (`cuescore.training.codec_data` layout); its path."""
    from cuescore.training.codec_data import PAIRS_DIR, write_pair, write_spec

    folder, spec, tensors, meta = pair
    write_spec(out / PAIRS_DIR / folder, spec)
    return write_pair(out / PAIRS_DIR / folder / f"{vid}.safetensors", tensors, meta)


def _codec_settings(music_model: str | None, codec_encoder: str | None, encoder: str) -> tuple[str | None, str | None]:
    """(music model, CLIP spec) for codec pairs, the models loaded to check them; (None, None) without."""
    if music_model is None:
        if codec_encoder is not None:
            raise OptionError("--codec-encoder applies with --codec-pairs --music-model M")
        return None, None
    clip = codec_encoder or (encoder if encoder.startswith("clip:") else None)
    if clip is None:
        raise OptionError("--codec-pairs needs a CLIP for the frames: --codec-encoder clip:<folder or hub id> "
                          "(e.g. clip:openai/clip-vit-base-patch32, VidMuse's)")
    from cuescore.training.codec import pair_models

    pair_models(music_model, clip)
    return music_model, clip


def _fill(report: BuildReport, manifest: Manifest, plan: list[tuple[str, Path]], redone: set[str]) -> None:
    for vid, path in plan:
        entry = manifest.items.get(vid, {})
        if entry.get("status") == "ok":
            report.written.append(vid)
            report.reused += [] if vid in redone else [vid]
            report.sources[vid], report.keys[vid] = str(path), entry["key"]
            report.seconds += int(entry["seconds"])
            if "split" in entry:
                report.splits[entry["split"]].append(vid)
        elif entry.get("status") == "failed":
            report.skipped.append((str(path), entry["reason"]))


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
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    shard: str | None = None,
    force: bool = False,
    codec_music_model: str | None = None,
    codec_encoder: str | None = None,
) -> BuildReport:
    """Turn music videos (files, folders, list files) into MuVi-Sync training data under `root`.

    encoder: semantic encoder spec ("handcrafted" or "clip:<folder or hub id>"); device: for learned
    encoders. split: train/val/test fractions. seed: of the split assignment. density: note-density
    method ("auto", "basic-pitch", "onsets"). ids: "number" or "stem" (see the module docstring).
    workers / backend / address: how the videos are spread (`cuescore.jobs.run_jobs`); shard: "K/N"
    builds every N-th video from the K-th (join shards with `merge_datasets`); force: redo videos
    already complete. codec_music_model: also write the pairs `train codec` reads (EnCodec tokens of
    the soundtrack from that MusicGen, CLIP patch tokens at 2 fps from `codec_encoder`, default
    `encoder` when it is a CLIP) into `codec_pairs/` (`cuescore.training.codec_data`). Options are checked before any video is read; a video that fails is recorded
    with its reason and the build goes on. The report's `complete` is False after an interruption
    (KeyboardInterrupt is re-raised after the manifest is saved).
    """
    split_counts(0, split)
    method = resolve_density_method(density)
    part = parse_shard(shard)
    if ids not in ID_STYLES:
        raise OptionError(f"ids must be one of {', '.join(ID_STYLES)}, got {ids!r}")
    paths = collect_videos(videos)
    _encoder(encoder, device)
    music_model, clip = _codec_settings(codec_music_model, codec_encoder, encoder)
    settings = {"encoder": encoder, "density": method, "ids": ids, "split": list(split), "seed": seed,
                "codec_pairs": [music_model, clip] if music_model else None}
    with folder_lock(root) as out, run_log(out, "build") as log_run:
        manifest = Manifest.load(out, KIND)
        manifest.use_settings(settings, fixed=("encoder", "density", "codec_pairs"), force=force)
        plan = list(zip(plan_ids(paths, manifest, ids), paths))
        if part is not None:
            plan = plan[part[0] - 1 :: part[1]]
        by_id = dict(plan)
        todo = [(vid, VideoJob(str(path), encoder, device, method, music_model, clip)) for vid, path in plan
                if force or not manifest.complete(vid)]
        log_run.info("build of %d videos into %s (%d to do; %s, %d worker(s)); settings %s", len(plan), out,
                     len(todo), backend, workers, settings)
        report = BuildReport(out, density_method=method, complete=False)
        try:
            for outcome in run_jobs(label_job, todo, workers=workers, backend=backend, address=address,
                                    progress=progress, desc="dataset"):
                _store(manifest, outcome, by_id[outcome.key], log_run, force)
            report.complete = True
            register_splits(manifest, split, seed)
        finally:
            manifest.save()
            _fill(report, manifest, plan, {vid for vid, _ in todo})
            log_run.info("%s", report.summary())
    return report


__all__ = ["BuildReport", "ID_STYLES", "LabelledVideo", "VideoJob", "assign_splits", "build_dataset",
           "collect_videos", "label_job", "label_video", "plan_ids", "split_counts", "stem_id"]
