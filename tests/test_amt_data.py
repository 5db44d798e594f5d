"""MuVi-Sync reader and writer: the published format, round trips, and errors that name file and line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cuescore.data import MuViSyncDataset, features_matrix, read_chord_lab, read_emotion_lab, write_muvisync_example
from cuescore.data.muvisync import (
    CLIP_L14P_ID,
    check_vocabulary,
    read_split,
    read_value_lab,
    resolve_variants,
    semantic_folder_for,
)
from cuescore.errors import InputError, OptionError
from cuescore.music.chords import END, PAD, parse_chord, vocabulary

from muvisync_fixtures import SEMANTIC_FOLDER, make_muvisync, synthetic_video


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def published_example(root: Path, vid: str = "001", emotion: str = "6c_l14p", dim: int = 4, seconds: int = 5) -> None:
    """One video written by hand exactly as the published MuVi-Sync files look."""
    _write(root / "vevo_chord/lab_v2_norm/all" / f"{vid}.lab",
           "key A minor\n0 A:min\n1 A:min\n2 F\n3 G:7\n4 N\n")
    cols = 6 if emotion.startswith("6c") else 5
    names = ["exciting", "fearful", "tense", "sad", "relaxing", "neutral"][:cols]
    rows = "".join(f"{t} " + " ".join(["0.0100"] * (cols - 1) + ["0.9500"]) + "\n" for t in range(seconds))
    header = "time " + " ".join(f"{n}_prob" for n in names) + "\n"
    _write(root / f"vevo_emotion/{emotion}/all" / f"{vid}.lab", header + rows)
    _write(root / "vevo_motion/all" / f"{vid}.lab", "".join(f"{t} {t * 1.5:.4f}\n" for t in range(seconds)))
    _write(root / "vevo_scene_offset/all" / f"{vid}.lab", "0 0\n1 1\n2 0\n3 1\n4 2\n")
    _write(root / "vevo_loudness/all" / f"{vid}.lab", "".join(f"{t} 0.{t + 1}000\n" for t in range(seconds)))
    _write(root / "vevo_note_density/all" / f"{vid}.lab", "0 3.0\n1 4.0\n2 0\n3 2.0\n")
    sem = root / "vevo_semantic/all/2d/clip_l14p" / f"{vid}.npy"
    sem.parent.mkdir(parents=True, exist_ok=True)
    np.save(sem, np.arange(seconds * dim, dtype=np.float32).reshape(seconds, dim))
    split = root / "vevo_meta/split/v1/train.txt"
    _write(split, (split.read_text() if split.exists() else "") + f"{vid}\n")


def test_published_format_reads_as_video2music(tmp_path: Path) -> None:
    published_example(tmp_path)
    _write(tmp_path / "vevo_meta/chord.json", json.dumps(vocabulary()))
    ds = MuViSyncDataset(tmp_path, "train", max_len=8)
    item = ds[0]
    amin, f, g7 = (parse_chord(c).token for c in ("A:min", "F", "G:7"))
    assert item["x"].tolist() == [amin, amin, f, g7, 0, END, PAD]
    assert item["tgt"].tolist() == [amin, f, g7, 0, END, PAD, PAD]
    assert int(item["mode"]) == 1 and int(item["length"]) == 5
    video = item["video"]
    assert video.shape == (8, 4 + 2 + 6) and ds.video_dim == 12
    assert video[:5, 4].tolist() == [1, 2, 1, 2, 3]  # scene offset + 1; 0 marks padding
    assert video[5:].abs().sum() == 0
    assert torch.allclose(video[:5, 5], torch.tensor([0, 1.5, 3, 4.5, 6]))
    assert item["note_density"][:4].tolist() == [3, 4, 0, 2] and item["regression_mask"].sum() == 4
    assert ds.encoder["id"] == CLIP_L14P_ID


def test_five_class_emotion_and_cut_to_max_len(tmp_path: Path) -> None:
    published_example(tmp_path, emotion="5c_l14p")
    ds = MuViSyncDataset(tmp_path, "train", emotion="5c_l14p", max_len=3)
    item = ds[0]
    assert ds.emotion_width == 5 and item["emotion"].shape == (3, 5)
    assert END not in item["tgt"].tolist()  # the chords run past max_len: no END
    assert read_emotion_lab(tmp_path / "vevo_emotion/5c_l14p/all/001.lab", 5).shape == (5, 5)


def test_writer_round_trip(tmp_path: Path) -> None:
    feats, chords, key, loud, dens = synthetic_video(7, np.random.default_rng(1))
    written = write_muvisync_example(tmp_path, "vid-1", feats, chords, key, loud, dens, split="val")
    assert written["semantic"] == tmp_path / "vevo_semantic/all/2d/synthetic/vid-1.npy"
    lab = read_chord_lab(written["chord"])
    assert lab.key is not None and lab.key.name == key
    assert [vocabulary()[c] for c in chords] == lab.tokens.tolist()
    np.testing.assert_allclose(read_value_lab(written["motion"]), feats.motion, atol=5e-5)
    assert all(len(line.split()[1].split(".")[1]) == 4 for line in written["motion"].read_text().splitlines())
    np.testing.assert_array_equal(read_value_lab(written["scene_offset"]), feats.scene_offset)
    np.testing.assert_allclose(read_emotion_lab(written["emotion"]), feats.emotion, atol=5e-5)
    assert written["emotion"].read_text().startswith("time exciting_prob fearful_prob tense_prob sad_prob")
    np.testing.assert_allclose(read_value_lab(written["loudness"]), loud, atol=5e-5)
    np.testing.assert_allclose(read_value_lab(written["note_density"]), dens)
    assert read_split(tmp_path, "val") == ["vid-1"]
    write_muvisync_example(tmp_path, "vid-1", feats, split="val")
    assert read_split(tmp_path, "val") == ["vid-1"]
    check_vocabulary(tmp_path)
    ds = MuViSyncDataset(tmp_path, "val", semantic=SEMANTIC_FOLDER, max_len=10)
    np.testing.assert_allclose(ds[0]["video"].numpy()[:7], features_matrix(feats), atol=5e-5)  # .4f text
    assert ds.feature_info()["semantic_encoder"] == {"name": "synthetic", "id": "synthetic", "dim": 8}


def test_semantic_folder_names() -> None:
    assert semantic_folder_for({"id": CLIP_L14P_ID}) == "clip_l14p"
    other = {"name": "clip", "id": "clip:openai/clip-vit-base-patch32"}
    assert semantic_folder_for(other) == "clip_openai_clip-vit-base-patch32"
    assert semantic_folder_for({"name": "handcrafted", "id": "handcrafted"}) == "handcrafted"


def test_missing_file_skips_the_id_with_a_warning(tmp_path: Path) -> None:
    make_muvisync(tmp_path, n_train=3, n_val=0, n_test=0)
    (tmp_path / "vevo_motion/all/train001.lab").unlink()
    with pytest.warns(UserWarning, match=r"train001.*vevo_motion"):
        ds = MuViSyncDataset(tmp_path, "train", semantic=SEMANTIC_FOLDER)
    assert ds.ids == ["train000", "train002"]


@pytest.mark.parametrize(
    ("target", "text", "where"),
    [
        ("vevo_motion/all/001.lab", "0 1.0\n1 fast\n", ":2: 'fast' is not a number"),
        ("vevo_scene_offset/all/001.lab", "0 0\n1.5 1\n", ":2: '1.5' is not a whole second"),
        ("vevo_chord/lab_v2_norm/all/001.lab", "key C major\n0 C\n1 H:min\n", ":3: "),
        ("vevo_chord/lab_v2_norm/all/001.lab", "key C dorian\n0 C\n", ":1: expected 'key <tonic> <major|minor>'"),
        ("vevo_emotion/6c_l14p/all/001.lab", "time a b c d e f\n0 0.1 0.2 0.3\n", ":2: expected '<second>' and 6"),
        ("vevo_meta/chord.json", json.dumps({**vocabulary(), "C": 2}), "chord vocabulary differs"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path: Path, target: str, text: str, where: str) -> None:
    published_example(tmp_path)
    _write(tmp_path / target, text)
    with pytest.raises(InputError) as err:
        MuViSyncDataset(tmp_path, "train")
    assert str(tmp_path / target) in str(err.value) and where in str(err.value)


def test_wrong_feature_width_and_missing_folder(tmp_path: Path) -> None:
    published_example(tmp_path, "001")
    published_example(tmp_path, "002", dim=5)
    with pytest.raises(InputError, match=r"002\.npy: feature width is 5, expected 4"):
        MuViSyncDataset(tmp_path, "train")
    with pytest.raises(InputError, match=r"vevo_semantic/all/2d/other: folder missing"):
        MuViSyncDataset(tmp_path, "train", semantic="other")
    with pytest.raises(InputError, match=r"split/v1/test.txt: split file missing"):
        MuViSyncDataset(tmp_path, "test")


def test_feature_variants_are_found_or_asked_for(tmp_path: Path) -> None:
    make_muvisync(tmp_path, n_train=2, n_val=1, n_test=0)
    assert resolve_variants(tmp_path, None, None) == (SEMANTIC_FOLDER, "6c_l14p")
    assert MuViSyncDataset(tmp_path, "train").semantic_folder == SEMANTIC_FOLDER
    other = tmp_path / "vevo_semantic/all/2d/handcrafted"
    other.mkdir(parents=True)
    np.save(other / "train000.npy", np.zeros((3, 4), np.float32))
    with pytest.raises(OptionError, match=rf"several semantic variants \(handcrafted, {SEMANTIC_FOLDER}\); "
                                          "choose one with --semantic"):
        MuViSyncDataset(tmp_path, "train")
    assert resolve_variants(tmp_path, "handcrafted", None) == ("handcrafted", "6c_l14p")
    with pytest.raises(InputError, match="no semantic features found"):
        resolve_variants(tmp_path / "vevo_meta", None, None)
