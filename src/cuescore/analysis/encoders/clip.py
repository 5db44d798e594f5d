"""The `clip` encoder: CLIP image embeddings and zero-shot emotion, as Video2Music computed them.

Spec `clip:<folder or hub id>` (plain `clip` means `openai/clip-vit-large-patch14-336`, the model
Video2Music used). The checkpoint is a `transformers` CLIP folder: config.json, weights, tokenizer
files and preprocessor_config.json. A hub id is read from the user's Hugging Face cache; it is
downloaded only when it is not cached and `HF_HUB_OFFLINE` is not set.

Per frame, one forward pass of the vision tower gives
  - the image embedding (`get_image_features`, not L2-normalised: what Video2Music stored per
    second in `vevo_semantic/*.npy` from `model.encode_image`),
  - the emotion: softmax over the six prompts of `logit_scale * cos(image, prompt)`, as in
    Video2Music's `emotion_feature.py` (prompts are the bare class words, no template),
  - the patch tokens (`last_hidden_state`, class token first), which VidMuse feeds its
    temporal transformers.

Images are prepared with the model's own preprocessor_config.json (resize the short side, centre
crop, rescale, normalise) in NumPy/OpenCV, so neither torchvision nor Pillow is needed. Frames that
arrive at `frame_short_side` (as the analysis decodes them) give transformers' pixels;
others are resized by OpenCV (area when shrinking, bicubic when enlarging), which differs slightly
from Pillow's bicubic.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import cv2
import numpy as np

from cuescore.analysis.encoders.base import MISSING, SemanticEncoder, register
from cuescore.analysis.features import EMOTIONS
from cuescore.errors import InputError, OptionError

if TYPE_CHECKING:
    import torch
    from transformers import CLIPModel, CLIPTokenizer

DEFAULT_MODEL = "openai/clip-vit-large-patch14-336"
INSTALL_HINT = "pip install torch 'transformers>=5'"


@dataclass(frozen=True)
class ImagePrep:
    """CLIP's image preprocessing: RGB uint8 frames → float32 [N, 3, crop_h, crop_w].

    short_side: the resize target of the short side (pixels), None for no resize.
    crop: (height, width) of the centre crop, None for no crop.
    scale: factor applied to 0-255 values (1/255), None for none.
    mean, std: per-channel normalisation, None for none.
    """

    short_side: int | None
    crop: tuple[int, int] | None
    scale: float | None
    mean: tuple[float, float, float] | None
    std: tuple[float, float, float] | None

    @classmethod
    def from_config(cls, config: dict) -> ImagePrep:
        """Read a transformers preprocessor_config.json (old int sizes or new size dicts)."""
        from transformers.image_processing_utils import get_size_dict

        short_side = crop = None
        if config.get("do_resize", True):
            size = get_size_dict(config.get("size", 224), default_to_square=False)
            if "shortest_edge" not in size:
                raise InputError(f"CLIP preprocessor size {size} is not a short-side resize; not supported")
            short_side = int(size["shortest_edge"])
        if config.get("do_center_crop", True):
            crop_size = get_size_dict(config.get("crop_size", 224), param_name="crop_size")
            crop = (int(crop_size["height"]), int(crop_size["width"]))
        normalise = config.get("do_normalize", True)
        return cls(
            short_side=short_side,
            crop=crop,
            scale=float(config.get("rescale_factor", 1 / 255)) if config.get("do_rescale", True) else None,
            mean=tuple(config["image_mean"]) if normalise else None,
            std=tuple(config["image_std"]) if normalise else None,
        )

    def __call__(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([self._one(np.asarray(image)) for image in images])

    def _one(self, image: np.ndarray) -> np.ndarray:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 frame [H, W, 3], got {image.dtype} {image.shape}")
        height, width = image.shape[:2]
        if self.short_side is not None and min(height, width) != self.short_side:
            # transformers' rule: the short side becomes `short_side`, the long side is truncated.
            short, long = sorted((height, width))
            new_long = int(self.short_side * long / short)
            new_h, new_w = (self.short_side, new_long) if height <= width else (new_long, self.short_side)
            shrink = self.short_side < short
            image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
        if self.crop is not None:
            image = _centre_crop(image, *self.crop)
        pixels = image.astype(np.float32)
        if self.scale is not None:
            pixels *= self.scale
        if self.mean is not None:
            pixels = (pixels - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def _centre_crop(image: np.ndarray, crop_h: int, crop_w: int) -> np.ndarray:
    """Centre crop [H, W, C] to [crop_h, crop_w, C], zero-padding a side that is too short."""
    height, width = image.shape[:2]
    if height < crop_h or width < crop_w:
        pad_h, pad_w = max(crop_h - height, 0), max(crop_w - width, 0)
        image = np.pad(image, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
        height, width = image.shape[:2]
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return image[top : top + crop_h, left : left + crop_w]


def _validate_prompts(prompts: Sequence[str]) -> tuple[str, ...]:
    valid = not isinstance(prompts, str) and len(prompts) == len(EMOTIONS)
    if not valid or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise OptionError(
            f"clip prompts must be {len(EMOTIONS)} non-empty strings, one per emotion in the order "
            f"{', '.join(EMOTIONS)}; got {prompts!r}"
        )
    return tuple(prompts)


def _locate(model: str) -> tuple[str, bool]:
    """(what to pass to from_pretrained, whether it is a local folder)."""
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path), True
    if path.is_absolute() or model.startswith((".", "~")) or model.count("/") > 1 or path.exists():
        raise InputError(
            f"CLIP model folder not found: {model} (give a folder saved by transformers, or a hub id "
            f"such as {DEFAULT_MODEL})"
        )
    return model, False


def _load_checkpoint(source: str, local: bool, dtype: torch.dtype) -> tuple[CLIPModel, CLIPTokenizer, dict]:
    """(CLIPModel, CLIPTokenizer, preprocessor config dict) from a folder or the hub cache."""
    from huggingface_hub.constants import is_offline_mode
    from transformers import CLIPModel, CLIPTokenizer
    from transformers.image_processing_base import ImageProcessingMixin

    def load(local_files_only: bool) -> tuple[CLIPModel, CLIPTokenizer, dict]:
        model = CLIPModel.from_pretrained(source, dtype=dtype, local_files_only=local_files_only)
        tokenizer = CLIPTokenizer.from_pretrained(source, local_files_only=local_files_only)
        config, _ = ImageProcessingMixin.get_image_processor_dict(source, local_files_only=local_files_only)
        return model, tokenizer, config

    try:
        # The cache first: with no network, an online attempt would spend ~20 s in retries.
        return load(local_files_only=True)
    except OSError as cache_error:
        if local:
            reason = str(cache_error).splitlines()[0]
            raise InputError(f"{source} is not a complete CLIP checkpoint folder: {reason}") from None
        if is_offline_mode():
            raise InputError(
                f"CLIP model {source} is not in the Hugging Face cache (HF_HUB_OFFLINE is set); get it with "
                f"`huggingface-cli download {source}` or pass a local folder: --encoder clip:DIR"
            ) from None
    try:
        return load(local_files_only=False)
    except OSError:
        raise InputError(
            f"CLIP model {source} could not be loaded from the hub or its cache; get it with "
            f"`huggingface-cli download {source}` or pass a local folder: --encoder clip:DIR"
        ) from None


class ClipEncoder(SemanticEncoder):
    """CLIP image embeddings [N, projection_dim] and zero-shot emotion [N, 6] per frame.

    model: a local folder or a hub id (default: Video2Music's ViT-L/14@336).
    device: auto (CUDA when available) | cpu | cuda | cuda:N.
    half: fp16 weights on CUDA (CPU always runs fp32).
    prompts: six zero-shot prompts; prompt i scores `EMOTIONS[i]` (exciting, fearful, tense, sad,
        relaxing, neutral), so a custom list must keep that order.
    batch_size: frames per forward pass; bounds memory.
    """

    NAME = "clip"
    USES_DEVICE = True
    TAKES_ARGUMENT = True

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str = "auto",
        half: bool = True,
        prompts: Sequence[str] = EMOTIONS,
        batch_size: int = 16,
    ) -> None:
        import torch
        import torch.nn.functional as F

        from cuescore.models.device import resolve_device

        self.prompts = _validate_prompts(prompts)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise OptionError(f"clip batch_size must be a positive integer; got {batch_size!r}")
        self.batch_size = batch_size
        self.device = str(resolve_device(device))
        self._dtype = torch.float16 if half and self.device.startswith("cuda") else torch.float32
        source, local = _locate(model)
        self._name = Path(source).resolve().name if local else source
        self._model, tokenizer, prep_config = _load_checkpoint(source, local, self._dtype)
        self._model.to(self.device).eval()
        self._prep = ImagePrep.from_config(prep_config)
        crop_side = min(self._prep.crop) if self._prep.crop else self._model.config.vision_config.image_size
        self.frame_short_side = self._prep.short_side or crop_side

        text_config = self._model.config.text_config
        tokens = tokenizer(
            list(self.prompts),
            padding=True,
            truncation=True,
            max_length=text_config.max_position_embeddings,
            return_tensors="pt",
        ).to(self.device)
        with torch.inference_mode():
            text = self._model.get_text_features(**tokens).pooler_output
            self._text = F.normalize(text.float(), dim=-1)  # [6, dim], unit rows
            self._logit_scale = float(self._model.logit_scale.float().exp())

    @property
    def dim(self) -> int:
        return int(self._model.config.projection_dim)

    @property
    def id(self) -> str:
        return f"clip:{self._name}"

    @property
    def patch_shape(self) -> tuple[int, int]:
        """(P, hidden) of `encode_patches`: P = 1 + (image_size / patch_size)², class token first."""
        vision = self._model.config.vision_config
        return 1 + (vision.image_size // vision.patch_size) ** 2, int(vision.hidden_size)

    def describe(self) -> dict:
        return {**super().describe(), "prompts": list(self.prompts)}

    def encode(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """CLIP image embeddings, float32 [N, dim], not normalised (as Video2Music stored them)."""
        return self.encode_with_emotion(images)[0]

    def emotion(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Zero-shot probabilities over the prompts, float32 [N, 6], rows sum to 1."""
        return self.encode_with_emotion(images)[1]

    def encode_with_emotion(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings [N, dim], emotion [N, 6]) from one vision pass per batch; float32."""
        import torch
        import torch.nn.functional as F

        embeddings = [np.zeros((0, self.dim), np.float32)]
        emotions = [np.zeros((0, len(EMOTIONS)), np.float32)]
        with torch.inference_mode():
            for pixels in self._batches(images):
                features = self._model.get_image_features(pixel_values=pixels).pooler_output.float()
                logits = self._logit_scale * (F.normalize(features, dim=-1) @ self._text.T)
                embeddings.append(features.cpu().numpy())
                emotions.append(logits.softmax(dim=-1).cpu().numpy())
        return np.concatenate(embeddings), np.concatenate(emotions)

    def encode_patches(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Vision tokens before the final layer norm, float32 [N, P, hidden] (see `patch_shape`)."""
        import torch

        tokens = [np.zeros((0, *self.patch_shape), np.float32)]
        with torch.inference_mode():
            for pixels in self._batches(images):
                tokens.append(self._model.vision_model(pixel_values=pixels).last_hidden_state.float().cpu().numpy())
        return np.concatenate(tokens)

    def _batches(self, images: Sequence[np.ndarray]) -> Iterator[torch.Tensor]:
        """Prepared pixel tensors [<= batch_size, 3, H, W] on the model's device and dtype."""
        import torch

        for start in range(0, len(images), self.batch_size):
            pixels = self._prep(images[start : start + self.batch_size])
            yield torch.from_numpy(pixels).to(self.device, self._dtype)


if importlib.util.find_spec("torch") and importlib.util.find_spec("transformers"):
    register(ClipEncoder)
else:
    MISSING[ClipEncoder.NAME] = INSTALL_HINT
