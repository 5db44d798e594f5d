"""The `clip` encoder, loaded through the registry from a tiny random CLIP saved to disk."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from clip_fixtures import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, make_tiny_clip  # noqa: E402

import cuescore.analysis.encoders.clip  # noqa: E402,F401  (registers "clip")
from cuescore.analysis.encoders.base import available_encoders, get_encoder  # noqa: E402
from cuescore.analysis.encoders.clip import ClipEncoder, ImagePrep  # noqa: E402
from cuescore.analysis.features import EMOTIONS  # noqa: E402
from cuescore.errors import InputError, OptionError  # noqa: E402


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


@pytest.fixture(scope="module")
def encoder(tiny_dir) -> ClipEncoder:
    return get_encoder(f"clip:{tiny_dir}", device="cpu")


def frames(n: int, height: int = 32, width: int = 56, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(n)]


def test_registered():
    assert "clip" in available_encoders()


def test_properties(encoder, tiny_dir):
    assert isinstance(encoder, ClipEncoder)
    assert encoder.dim == 16
    assert encoder.id == "clip:tiny-clip"
    assert encoder.frame_short_side == 32
    assert encoder.device == "cpu"
    assert encoder.patch_shape == (1 + (32 // 8) ** 2, 32)
    assert encoder.describe() == {"name": "clip", "id": "clip:tiny-clip", "dim": 16, "prompts": list(EMOTIONS)}


def test_shapes_and_probabilities(encoder):
    images = frames(5)
    emb = encoder.encode(images)
    emo = encoder.emotion(images)
    assert emb.shape == (5, 16) and emb.dtype == np.float32
    assert emo.shape == (5, len(EMOTIONS)) and emo.dtype == np.float32
    assert np.all(emo >= 0)
    np.testing.assert_allclose(emo.sum(axis=1), 1.0, atol=1e-5)
    patches = encoder.encode_patches(images)
    assert patches.shape == (5, *encoder.patch_shape) and patches.dtype == np.float32


def test_deterministic_across_loads_and_batch_sizes(encoder, tiny_dir):
    images = frames(5, seed=2)
    emb, emo = encoder.encode_with_emotion(images)
    again = get_encoder(f"clip:{tiny_dir}", device="cpu", batch_size=2)
    emb2, emo2 = again.encode_with_emotion(images)
    np.testing.assert_allclose(emb2, emb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(emo2, emo, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(encoder.encode(images), emb)


def test_empty_input(encoder):
    assert encoder.encode([]).shape == (0, 16)
    assert encoder.emotion([]).shape == (0, 6)
    assert encoder.encode_patches([]).shape == (0, *encoder.patch_shape)


def test_matches_transformers_clip_forward(encoder, tiny_dir):
    """Embeddings are `get_image_features`; emotion is `logits_per_image.softmax` (Video2Music)."""
    from transformers import CLIPModel, CLIPTokenizer

    images = frames(4, seed=3)
    model = CLIPModel.from_pretrained(tiny_dir).eval()
    tokens = CLIPTokenizer.from_pretrained(tiny_dir)(list(EMOTIONS), padding=True, return_tensors="pt")
    pixels = torch.from_numpy(ImagePrep.from_config(json.loads((tiny_dir / "preprocessor_config.json").read_text()))(images))
    with torch.inference_mode():
        out = model(pixel_values=pixels, **tokens)
        features = model.get_image_features(pixel_values=pixels).pooler_output
        tokens_ref = model.vision_model(pixel_values=pixels).last_hidden_state
    np.testing.assert_allclose(encoder.encode(images), features.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(encoder.emotion(images), out.logits_per_image.softmax(-1).numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(encoder.encode_patches(images), tokens_ref.numpy(), rtol=1e-4, atol=1e-5)


def test_image_prep_centre_crops_and_normalises():
    prep = ImagePrep.from_config(
        {"size": {"shortest_edge": 4}, "crop_size": {"height": 4, "width": 4}, "do_rescale": True,
         "rescale_factor": 1 / 255, "image_mean": OPENAI_CLIP_MEAN, "image_std": OPENAI_CLIP_STD}
    )
    image = np.arange(4 * 8 * 3, dtype=np.uint8).reshape(4, 8, 3)
    expected = (image[:, 2:6] / 255.0 - np.array(OPENAI_CLIP_MEAN)) / np.array(OPENAI_CLIP_STD)
    out = prep([image])
    assert out.shape == (1, 3, 4, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], expected.transpose(2, 0, 1), rtol=1e-5)


def test_image_prep_resizes_short_side_first():
    prep = ImagePrep.from_config({"size": 16, "crop_size": 16, "image_mean": OPENAI_CLIP_MEAN, "image_std": OPENAI_CLIP_STD})
    assert (prep.short_side, prep.crop) == (16, (16, 16))
    for shape in [(64, 100, 3), (100, 64, 3), (8, 10, 3)]:
        assert prep([np.full(shape, 128, np.uint8)]).shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match="RGB uint8"):
        prep([np.zeros((16, 16), np.uint8)])


def test_custom_prompts_change_emotion_not_embedding(encoder, tiny_dir):
    prompts = [f"a {word} film scene" for word in EMOTIONS]
    custom = get_encoder(f"clip:{tiny_dir}", device="cpu", prompts=prompts)
    images = frames(3, seed=4)
    emb, emo = custom.encode_with_emotion(images)
    np.testing.assert_array_equal(emb, encoder.encode(images))
    assert not np.allclose(emo, encoder.emotion(images))
    np.testing.assert_allclose(emo.sum(axis=1), 1.0, atol=1e-5)
    assert custom.describe()["prompts"] == prompts


@pytest.mark.parametrize("prompts", [["happy", "sad"], list(EMOTIONS) + ["calm"], ["", *EMOTIONS[1:]], "exciting"])
def test_bad_prompts_are_option_errors(tiny_dir, prompts):
    with pytest.raises(OptionError, match="6 non-empty strings"):
        get_encoder(f"clip:{tiny_dir}", device="cpu", prompts=prompts)


@pytest.mark.parametrize("options", [{"device": "tpu"}, {"batch_size": 0}])
def test_bad_options_are_option_errors(tiny_dir, options):
    with pytest.raises(OptionError):
        get_encoder(f"clip:{tiny_dir}", **options)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_option_error(tiny_dir):
    with pytest.raises(OptionError, match="no CUDA"):
        get_encoder(f"clip:{tiny_dir}", device="cuda")


def test_missing_folder_is_one_line_input_error(tmp_path):
    with pytest.raises(InputError) as err:
        get_encoder(f"clip:{tmp_path / 'no-such-model'}", device="cpu")
    assert "not found" in str(err.value) and "\n" not in str(err.value)


def test_incomplete_folder_is_input_error(tmp_path):
    (tmp_path / "half").mkdir()
    with pytest.raises(InputError, match="not a complete CLIP checkpoint") as err:
        get_encoder(f"clip:{tmp_path / 'half'}", device="cpu")
    assert "\n" not in str(err.value)


def test_uncached_hub_id_offline_says_how_to_download(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read once at import
    with pytest.raises(InputError, match="huggingface-cli download cuescore-test/no-such-clip") as err:
        get_encoder("clip:cuescore-test/no-such-clip", device="cpu")
    assert "\n" not in str(err.value)
