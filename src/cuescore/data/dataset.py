"""`MuViSyncDataset`: MuVi-Sync videos as padded tensors.

Every sequence is padded or cut to `max_len` seconds (300 in the paper); the video rows are
`cuescore.data.matrices.video_matrix`, the layout a trained model also reads for a new video.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from cuescore.data.matrices import pad_rows, video_matrix
from cuescore.data.muvisync import (
    CHORD_DIR,
    LOUDNESS_DIR,
    MOTION_DIR,
    NOTE_DENSITY_DIR,
    SCENE_OFFSET_DIR,
    check_vocabulary,
    describe_semantic_folder,
    emotion_dir,
    emotion_names,
    read_chord_lab,
    read_emotion_lab,
    read_semantic,
    read_split,
    read_value_lab,
    resolve_variants,
    semantic_dir,
)
from cuescore.errors import InputError, OptionError
from cuescore.music.chords import END, PAD

TARGETS = ("all", "chords", "regression")
"""Which music files an id needs: `all` (as Video2Music), `chords` (AMT) or `regression` (loudness, density)."""


class MuViSyncDataset(Dataset):
    """One split of a MuVi-Sync folder. Items are dicts of tensors (L = `max_len`):

    x, tgt: int64 [L-1] chord tokens of seconds 0..L-2 and 1..L-1 (END after the last chord, PAD beyond);
    mode: int64 [] 0 major, 1 minor; video: float32 [L, video_dim] (`video_matrix`);
    emotion: float32 [L, E]; note_density, loudness: float32 [L]; regression_mask: bool [L] seconds
    that have both music targets; length: int64 [] seconds of video features; id: str.

    Ids missing a needed file are skipped with a warning naming the id and file; a missing folder,
    a malformed line or a wrong feature width raises `InputError` naming the file (and line).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        *,
        semantic: str | None = None,
        emotion: str | None = None,
        max_len: int = 300,
        targets: str = "all",
        split_version: str = "v1",
        semantic_dim: int | None = None,
    ) -> None:
        if targets not in TARGETS:
            raise OptionError(f"targets must be one of {', '.join(TARGETS)}, got {targets!r}")
        if max_len < 2:
            raise OptionError(f"max_len must be at least 2 seconds, got {max_len}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"{self.root}: dataset folder not found")
        self.split, self.max_len, self.targets = split, max_len, targets
        semantic, emotion = resolve_variants(self.root, semantic, emotion)
        self.semantic_folder, self.emotion_variant = semantic, emotion
        self.emotion_names = emotion_names(emotion)
        folders = {
            "motion": MOTION_DIR,
            "scene_offset": SCENE_OFFSET_DIR,
            "emotion": emotion_dir(emotion),
            "semantic": semantic_dir(semantic),
        }
        if targets in ("all", "chords"):
            folders["chord"] = CHORD_DIR
        if targets in ("all", "regression"):
            folders["loudness"] = LOUDNESS_DIR
            folders["note_density"] = NOTE_DENSITY_DIR
        for rel in folders.values():
            if not (self.root / rel).is_dir():
                raise InputError(f"{self.root / rel}: folder missing; {self.root} is not a MuVi-Sync dataset root")
        check_vocabulary(self.root)

        self.ids: list[str] = []
        self._items: list[dict] = []
        dim = semantic_dim
        for vid in read_split(self.root, split, split_version):
            paths = {
                kind: self.root / rel / f"{vid}{'.npy' if kind == 'semantic' else '.lab'}"
                for kind, rel in folders.items()
            }
            missing = [str(p) for p in paths.values() if not p.is_file()]
            if missing:
                warnings.warn(f"MuVi-Sync: skipping video {vid!r}: missing {', '.join(missing)}", stacklevel=2)
                continue
            sem = read_semantic(paths["semantic"], dim)
            dim = sem.shape[1]
            item = {
                "semantic_path": paths["semantic"],
                "semantic_len": sem.shape[0],
                "motion": read_value_lab(paths["motion"]),
                "scene_offset": read_value_lab(paths["scene_offset"]),
                "emotion": read_emotion_lab(paths["emotion"], len(self.emotion_names)),
                "mode": 0,
                "chords": np.zeros(0, np.int64),
                "loudness": np.zeros(0, np.float32),
                "note_density": np.zeros(0, np.float32),
            }
            if "chord" in paths:
                lab = read_chord_lab(paths["chord"])
                if lab.key is None:
                    warnings.warn(f"{paths['chord']}: no 'key' line; taken as major", stacklevel=2)
                item["mode"] = int(lab.key is not None and lab.key.mode == "minor")
                item["chords"] = lab.tokens
            if "loudness" in paths:
                item["loudness"] = read_value_lab(paths["loudness"])
                item["note_density"] = read_value_lab(paths["note_density"])
            self.ids.append(vid)
            self._items.append(item)
        if not self.ids:
            raise InputError(f"{self.root}: no usable video in split '{split}' (see the warnings above)")
        self.semantic_dim = int(dim)
        self.encoder = describe_semantic_folder(self.root, semantic, self.semantic_dim)

    @property
    def emotion_width(self) -> int:
        return len(self.emotion_names)

    @property
    def video_dim(self) -> int:
        """Width of one `video` row: semantic + scene offset + motion + emotion."""
        return self.semantic_dim + 2 + self.emotion_width

    def feature_info(self) -> dict:
        """What a checkpoint records about the inputs it was trained on."""
        return {
            "semantic_folder": self.semantic_folder,
            "emotion_variant": self.emotion_variant,
            "semantic_encoder": {**self.encoder, "dim": self.semantic_dim},
            "emotions": list(self.emotion_names),
            "video_dim": self.video_dim,
            "layout": [f"semantic:{self.semantic_dim}", "scene_offset+1", "motion", f"emotion:{self.emotion_width}"],
            "max_len": self.max_len,
        }

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict:
        item, L = self._items[index], self.max_len
        semantic = np.asarray(read_semantic(item["semantic_path"])[:L], np.float32)
        video = video_matrix(semantic, item["scene_offset"][:L], item["motion"][:L], item["emotion"][:L], L)
        chords = np.full(L, PAD, np.int64)
        tokens = item["chords"]
        chords[: min(L, len(tokens))] = tokens[:L]
        if 0 < len(tokens) < L:
            chords[len(tokens)] = END
        n_reg = min(L, len(item["loudness"]), len(item["note_density"]))
        mask = np.zeros(L, bool)
        mask[:n_reg] = True
        return {
            "x": torch.from_numpy(chords[:-1].copy()),
            "tgt": torch.from_numpy(chords[1:].copy()),
            "mode": torch.tensor(item["mode"], dtype=torch.long),
            "video": torch.from_numpy(video),
            "emotion": torch.from_numpy(pad_rows(item["emotion"], L)),
            "loudness": torch.from_numpy(pad_rows(item["loudness"], L)),
            "note_density": torch.from_numpy(pad_rows(item["note_density"], L)),
            "regression_mask": torch.from_numpy(mask),
            "length": torch.tensor(min(L, item["semantic_len"]), dtype=torch.long),
            "id": self.ids[index],
        }
