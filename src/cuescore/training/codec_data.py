"""Training pairs for the codec engine: videos with their own soundtrack, encoded once and cached.

Per video, one safetensors file in the cache folder holds
  - `codes` [K, T]: EnCodec tokens of the soundtrack (mono, at the music model's sample rate),
    encoded in 30 s chunks so memory stays flat with the video's length;
  - vidmuse: `tokens` [N, P, C]: CLIP patch tokens of the frames at `short_fps` (2 fps), each frame
    squashed to S x S and CLIP-normalised as VidMuse does. The long-term stream is `long_frames` of
    these spread evenly over the video (VidMuse spreads native frames; at 2 fps the difference is
    under half a second);
  - thesis: `semantic` [T, E]: CLIP image embeddings of the frame at each second, collected as
    `analyze` collects them (the rows the codec engine gets at generation).
The file name carries a hash of the video (path, size, time), the music model, the encoder and
the settings, so a changed input is encoded again and an unchanged one never twice.

`cuescore dataset build --codec-pairs` writes the same files into a dataset folder
(`PAIRS_DIR`), which `train codec --pairs ROOT` reads instead of videos.

`CodecPairs` cuts every video into windows of `window` seconds (the last one padded: codes with
the start token and masked out of the loss, frames by repeating the last, as VidMuse pads).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor
from torch.utils.data import Dataset

from cuescore.errors import InputError
from cuescore.fileio import atomic_path, ensure_writable_dir
from cuescore.analysis.pipeline import SecondFrames
from cuescore.analysis.features import timeline_length
from cuescore.media import iter_frames, probe, read_audio_track
from cuescore.media.decode import Sampling, iter_sampled

log = logging.getLogger("cuescore.training")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
ENCODE_CHUNK_SECONDS = 30.0


@dataclass(frozen=True)
class FeatureSpec:
    """What to extract: conditioner kind, frame sampling and the identity of the models."""

    kind: str
    music_model: str
    encoder: str
    short_fps: float = 2.0
    image_size: int = 224
    image_mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    image_std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def cache_name(self, video: Path) -> str:
        stat = video.stat()
        key = json.dumps([str(video.resolve()), stat.st_size, stat.st_mtime_ns, asdict(self)], sort_keys=True)
        return f"{video.stem}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.safetensors"


def list_videos(pairs_dir: str | os.PathLike) -> list[Path]:
    """The video files of a folder (not recursive), sorted; `InputError` if there are none."""
    folder = Path(pairs_dir)
    if not folder.is_dir():
        raise InputError(f"--pairs {folder}: no such folder; give a folder of videos with their own soundtrack")
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not videos:
        raise InputError(f"--pairs {folder}: no videos ({', '.join(VIDEO_SUFFIXES)}) in it")
    return videos


@torch.no_grad()
def encode_soundtrack(music, video: Path) -> Tensor:
    """EnCodec codes [K, T] (int64) of the video's audio track, mono, in chunks of whole frames."""
    encoder = music.audio_encoder
    rate = int(music.config.audio_encoder.sampling_rate)
    hop = int(np.prod(music.config.audio_encoder.upsampling_ratios))
    samples = read_audio_track(video, sample_rate=rate, channels=1).samples[0]
    chunk = max(hop, int(ENCODE_CHUNK_SECONDS * rate) // hop * hop)
    device = next(encoder.parameters()).device
    parts = []
    for start in range(0, len(samples), chunk):
        piece = torch.from_numpy(np.ascontiguousarray(samples[start : start + chunk]))[None, None].to(device)
        parts.append(encoder.encode(input_values=piece).audio_codes[0, 0].cpu())
    if not parts:
        raise InputError(f"{video}: its audio track is empty")
    return torch.cat(parts, dim=-1)


def normalised_frames(video: Path, fps: float, size: int, mean, std, batch: int = 32):
    """Batches of CLIP-normalised pixels [n, 3, size, size] of the frames at `fps`, squashed to
    size x size (VidMuse resizes, it does not crop)."""
    mean = np.asarray(mean, np.float32)
    std = np.asarray(std, np.float32)
    buffer = []
    for frame in iter_frames(video, fps=fps, size=(size, size)):
        buffer.append(((frame.image.astype(np.float32) / 255.0 - mean) / std).transpose(2, 0, 1))
        if len(buffer) == batch:
            yield torch.from_numpy(np.stack(buffer))
            buffer = []
    if buffer:
        yield torch.from_numpy(np.stack(buffer))


def _visual_features(spec: FeatureSpec, video: Path, duration: float, conditioner, encoder) -> dict[str, Tensor]:
    if spec.kind == "vidmuse":
        tokens = [conditioner.clip_tokens(pixels).to(torch.float16).cpu()
                  for pixels in normalised_frames(video, spec.short_fps, spec.image_size, spec.image_mean,
                                                  spec.image_std)]
        if not tokens:
            raise InputError(f"{video}: no video frames could be decoded")
        return {"tokens": torch.cat(tokens)}
    # the analysis's own per-second rows: the same frames, sizes and fill as `analyze` gives generation
    seconds = SecondFrames(encoder, timeline_length(duration))
    for t, (image,) in iter_sampled(video, [Sampling(1.0, short_side=encoder.frame_short_side)]):
        seconds.add(int(t + 1e-6), image)
    semantic, _ = seconds.results()
    if np.isnan(semantic).any():
        raise InputError(f"{video}: no video frames could be decoded")
    return {"semantic": torch.from_numpy(semantic).float()}


def encode_pair(video: Path, spec: FeatureSpec, music, conditioner, encoder=None) -> tuple[dict[str, Tensor], dict]:
    """The tensors of one pair file (see the module docstring) and its metadata; `InputError` for
    a video without audio or frames."""
    duration = probe(video).duration
    tensors = {"codes": encode_soundtrack(music, video).to(torch.int64),
               **_visual_features(spec, video, duration, conditioner, encoder)}
    return tensors, {"video": str(video), "duration": f"{duration:.6f}"}


def write_pair(target: Path, tensors: dict[str, Tensor], meta: dict) -> Path:
    """Save one pair file atomically."""
    ensure_writable_dir(target.parent)
    with atomic_path(target) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=meta)
    return target


def prepare_pairs(videos: list[Path], cache_dir: Path, spec: FeatureSpec, music, conditioner, encoder=None) -> list[Path]:
    """Encode every video not yet in `cache_dir`; returns the cache files of the videos that have
    both audio and frames (the others are skipped with a warning)."""
    ensure_writable_dir(cache_dir)
    files = []
    for video in videos:
        target = cache_dir / spec.cache_name(video)
        if not target.is_file():
            try:
                write_pair(target, *encode_pair(video, spec, music, conditioner, encoder))
            except InputError as exc:
                log.warning("skipping %s: %s", video, exc)
                continue
        files.append(target)
    if not files:
        raise InputError("no training pair could be read: every video lacked audio or frames (see the warnings)")
    return files


# ---------------------------------------------------------------- pairs in a dataset folder

PAIRS_DIR = "codec_pairs"
SPEC_FILE = "spec.json"
"""`cuescore dataset build --codec-pairs` writes `ROOT/codec_pairs/<kind>-<hash>/<id>.safetensors`
(the pair files above, one per video) with `spec.json` (the `FeatureSpec`) beside them."""


def pairs_folder(spec: FeatureSpec) -> str:
    """The folder name under `codec_pairs/` for pairs made with `spec`."""
    key = json.dumps(asdict(spec), sort_keys=True)
    return f"{spec.kind}-{hashlib.sha1(key.encode()).hexdigest()[:12]}"


def write_spec(folder: Path, spec: FeatureSpec) -> None:
    """Write `spec.json` into a pairs folder unless it is there."""
    if not (folder / SPEC_FILE).is_file():
        ensure_writable_dir(folder)
        with atomic_path(folder / SPEC_FILE) as tmp:
            tmp.write_text(json.dumps(asdict(spec), indent=1, sort_keys=True) + "\n", encoding="utf-8")


def holds_built_pairs(root: str | os.PathLike) -> bool:
    """Whether `root` is a dataset folder with codec pairs (rather than a folder of videos)."""
    return (Path(root) / PAIRS_DIR).is_dir()


def built_pair_files(root: str | os.PathLike, spec: FeatureSpec) -> list[Path]:
    """The pair files a dataset build wrote for `spec`, sorted; `InputError` naming the specs it
    holds when none match (other music model, CLIP or conditioner)."""
    folder = Path(root) / PAIRS_DIR / pairs_folder(spec)
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    if files:
        return files
    found = []
    for path in sorted((Path(root) / PAIRS_DIR).glob(f"*/{SPEC_FILE}")):
        other = json.loads(path.read_text(encoding="utf-8"))
        found.append(f"{other['kind']} pairs of music model {other['music_model']} with {other['encoder']}")
    raise InputError(f"{Path(root) / PAIRS_DIR}: no pairs for the {spec.kind} conditioner on {spec.music_model} with "
                     f"{spec.encoder} (it holds: {'; '.join(found) or 'none'}); train with those settings, "
                     "rebuild with yours, or give a folder of videos")


class CodecPairs(Dataset):
    """Windows of cached pairs: {codes [K, L], valid [L], position [2], and short_tokens [Ns, P, C] +
    long_tokens [Nl, P, C] (vidmuse) or semantic [W, E] (thesis)}."""

    def __init__(self, files: list[Path], *, window: float, frame_rate: float, pad_code: int, short_fps: float = 2.0,
                 long_frames: int = 32) -> None:
        self.files, self.window, self.frame_rate, self.pad_code = files, window, frame_rate, pad_code
        self.short_fps, self.long_frames = short_fps, long_frames
        self.items: list[tuple[int, float, float]] = []
        for i, file in enumerate(files):
            with safe_open(str(file), "pt") as f:
                duration = float(f.metadata()["duration"])
                length = f.get_slice("codes").get_shape()[1] / frame_rate
            duration = max(min(duration, length), 1.0 / frame_rate)
            count = max(1, math.ceil(duration / window - 1e-6))
            self.items += [(i, k * window, duration) for k in range(count)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        i, start, duration = self.items[index]
        steps = round(self.window * self.frame_rate)
        with safe_open(str(self.files[i]), "pt") as f:
            first = round(start * self.frame_rate)
            codes = f.get_slice("codes")[:, first : first + steps]
            out = {"codes": torch.full((codes.shape[0], steps), self.pad_code, dtype=torch.long),
                   "valid": torch.zeros(steps, dtype=torch.bool),
                   "position": torch.tensor([start / duration, min(start + self.window, duration) / duration])}
            out["codes"][:, : codes.shape[1]] = codes
            out["valid"][: codes.shape[1]] = True
            if "tokens" in f.keys():
                out.update(self._vidmuse(f, start))
            else:
                out["semantic"] = _held(f.get_slice("semantic"), int(start), max(1, round(self.window)))
        return out

    def _vidmuse(self, f, start: float) -> dict[str, Tensor]:
        tokens = f.get_slice("tokens")
        count = tokens.get_shape()[0]
        first = round(start * self.short_fps)
        short = _held(tokens, first, max(1, round(self.window * self.short_fps))).float()
        picks = np.linspace(0, count - 1, self.long_frames).round().astype(int)
        long = torch.cat([tokens[int(k) : int(k) + 1] for k in picks]).float()
        return {"short_tokens": short, "long_tokens": long}


def _held(rows, first: int, n: int) -> Tensor:
    """Rows [first, first + n) of a safetensors slice, the last available row repeated to fill."""
    total = rows.get_shape()[0]
    first = min(first, total - 1)
    part = rows[first : first + n]
    if part.shape[0] < n:
        part = torch.cat([part, part[-1:].expand(n - part.shape[0], *part.shape[1:])])
    return part
