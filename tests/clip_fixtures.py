"""A tiny random CLIP checkpoint, saved the way the hub stores a real one, for offline tests.

`make_tiny_clip(folder)` writes config.json + model.safetensors (transformers `CLIPModel`), a
byte-level `CLIPTokenizer` (every byte a token, no merges) and preprocessor_config.json in the
old integer format of openai/clip-vit-large-patch14-336. Load it with
`get_encoder(f"clip:{folder}")` or `cuescore analyze VIDEO --encoder clip:FOLDER`.
"""

from __future__ import annotations

import json
from pathlib import Path

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def tiny_tokenizer():
    """A CLIPTokenizer over the 256 byte-level symbols (alone and word-final) plus bos/eos."""
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    symbols = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = symbols + [s + "</w>" for s in symbols] + ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={token: i for i, token in enumerate(tokens)}, merges=[])


def make_tiny_clip(
    folder: Path,
    *,
    image_size: int = 32,
    patch_size: int = 8,
    hidden: int = 32,
    projection_dim: int = 16,
    vision: dict | None = None,
    fp16: bool = False,
    seed: int = 0,
) -> Path:
    """Write a random CLIP (2 layers per tower) to `folder`; returns `folder`.

    Frames are resized to short side `image_size` and centre-cropped square; the vision tower
    gives 1 + (image_size / patch_size)² tokens of width `hidden`; embeddings have `projection_dim`.
    vision: `CLIPVisionConfig` fields that override the tiny tower (the benchmark builds ViT-L/14
    this way). fp16: save the weights in half precision (half the disk).
    """
    import torch
    from transformers import CLIPConfig, CLIPModel

    folder = Path(folder)
    tokenizer = tiny_tokenizer()
    tower = dict(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2, num_attention_heads=2)
    config = CLIPConfig(
        text_config=dict(
            tower,
            vocab_size=len(tokenizer),
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        vision_config=dict(tower, image_size=image_size, patch_size=patch_size, **(vision or {})),
        projection_dim=projection_dim,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    (model.half() if fp16 else model).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    preprocessor = {
        "crop_size": image_size,
        "do_center_crop": True,
        "do_normalize": True,
        "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor",
        "image_mean": list(OPENAI_CLIP_MEAN),
        "image_std": list(OPENAI_CLIP_STD),
        "resample": 3,
        "size": image_size,
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2))
    return folder
