"""Speed of the `clip` encoder at Video2Music's size: ViT-L/14@336, frames per second.

Builds a CLIP whose vision tower has the ViT-L/14@336 architecture (random weights; the text
tower is tiny, it runs once at load), saves it to a temporary folder and loads it through
`get_encoder("clip:DIR")`, so the timing covers the real path: preprocessing of 16:9 frames at
short side 336, one vision pass, embeddings and zero-shot emotion (`encode_with_emotion`).

    python benchmarks/bench_clip.py [--batches 2] [--batch-size 16] [--device cpu cuda]

Prints one markdown row per device (fp32 on CPU, fp16 on CUDA).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from clip_fixtures import make_tiny_clip  # noqa: E402

import cuescore.analysis.encoders.clip  # noqa: E402,F401  (registers "clip")
from cuescore.analysis.encoders.base import get_encoder  # noqa: E402

VIT_L_14 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16)
"""CLIPVisionConfig of openai/clip-vit-large-patch14-336 (with image_size 336, patch_size 14)."""


def bench(folder: Path, device: str, batch_size: int, batches: int) -> str:
    """Time `batches` batches after one warm-up batch; returns a markdown row."""
    encoder = get_encoder(f"clip:{folder}", device=device, batch_size=batch_size)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (336, 597, 3), dtype=np.uint8) for _ in range(batch_size)]
    encoder.encode_with_emotion(frames[:2])
    times = []
    for _ in range(batches):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        emb, emo = encoder.encode_with_emotion(frames)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    assert emb.shape == (batch_size, 768) and emo.shape == (batch_size, 6)
    per_batch = float(np.median(times))
    where = f"cpu ({torch.get_num_threads()} threads)" if device == "cpu" else torch.cuda.get_device_name()
    dtype = "fp32" if device == "cpu" else "fp16"
    cells = ["clip ViT-L/14@336 encode_with_emotion", where, dtype, batch_size, batches]
    return "| " + " | ".join(map(str, cells)) + f" | {batch_size / per_batch:.2f} | {per_batch:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2, help="timed batches per device")
    parser.add_argument("--batch-size", type=int, default=16)
    default_devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    parser.add_argument("--device", nargs="+", default=default_devices)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_tiny_clip(
            Path(tmp) / "vit-l-14-336", image_size=336, patch_size=14, projection_dim=768, vision=VIT_L_14, fp16=True
        )
        print("| encoder | device | dtype | batch | batches | frames/s | s/batch |")
        print("|---|---|---|---|---|---|---|")
        for device in args.device:
            print(bench(folder, device, args.batch_size, args.batches), flush=True)


if __name__ == "__main__":
    main()
