"""Windowed MusicGen generation and chunked EnCodec decoding, on a tiny random MusicGen (10 frames/s)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from cuescore.models.codec_generate import (  # noqa: E402
    Sampling,
    Window,
    decode_chunk,
    decode_codes,
    generate_audio,
    generate_codes,
    plan_windows,
)
from musicgen_fixtures import make_tiny_musicgen  # noqa: E402

GREEDY = Sampling(temperature=0.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(model, tokenizer) of a tiny MusicGen saved to disk and loaded back offline."""
    from transformers import AutoTokenizer, MusicgenForConditionalGeneration

    torch.set_num_threads(1)
    folder = make_tiny_musicgen(tmp_path_factory.mktemp("musicgen") / "tiny")
    model = MusicgenForConditionalGeneration.from_pretrained(folder, local_files_only=True).eval()
    return model, AutoTokenizer.from_pretrained(folder, local_files_only=True)


@pytest.fixture(scope="module")
def text(tiny):
    """A text prompt's encoder inputs and `memory_for_window` for it (no unconditional memory)."""
    model, tokenizer = tiny
    inputs = tokenizer(["calm piano music"], return_tensors="pt")
    with torch.no_grad():
        memory = model.text_encoder(**inputs).last_hidden_state
    return inputs, lambda start, end: (memory, inputs.attention_mask, None, None)


def test_plan_windows_covers_the_piece_with_vidmuse_stride():
    windows = plan_windows(3500, 50.0)  # 70 s at 50 Hz, 30 s windows 29.5 s apart
    assert windows == [Window(0, 0, 1500, 0), Window(1, 1475, 2975, 25), Window(2, 2950, 3500, 25)]
    assert sum(w.new_frames for w in windows) == 3500
    assert plan_windows(10, 50.0) == [Window(0, 0, 10, 0)]
    with pytest.raises(ValueError, match="stride"):
        plan_windows(100, 50.0, window_s=10, stride_s=12)


@pytest.mark.parametrize("guidance", [3.0, 1.0])
def test_one_window_matches_musicgen_generate(tiny, text, guidance):
    """Greedy, with and without classifier-free guidance: the same audio as MusicGen's own generate."""
    model, _ = tiny
    inputs, memory_for_window = text
    reference = model.generate(**inputs, max_new_tokens=40, do_sample=False, guidance_scale=guidance)[0].numpy()
    frames = 40 + 1 - model.decoder.num_codebooks  # what max_new_tokens=40 gives with the delay pattern
    audio = generate_audio(model, memory_for_window, frames / 10, sampling=Sampling(temperature=0.0, guidance=guidance))
    np.testing.assert_allclose(audio, reference, atol=1e-6)


def test_guidance_changes_the_music(tiny, text):
    model, _ = tiny
    _, memory_for_window = text
    with_cfg = next(generate_codes(model, memory_for_window, 4.0, sampling=Sampling(temperature=0.0, guidance=3.0)))
    without = next(generate_codes(model, memory_for_window, 4.0, sampling=Sampling(temperature=0.0, guidance=1.0)))
    assert with_cfg.shape == without.shape == (1, 2, 40)
    assert not torch.equal(with_cfg, without)


def test_unconditional_memory_is_used_for_guidance(tiny, text):
    """A given unconditional memory (e.g. a conditioner on black frames) replaces MusicGen's null one."""
    model, _ = tiny
    _, memory_for_window = text
    memory, mask, _, _ = memory_for_window(0, 1)
    uncond = torch.randn(1, 5, memory.shape[-1])
    with_uncond = lambda s, e: (memory, mask, uncond, torch.ones(1, 5, dtype=torch.long))  # noqa: E731
    null = next(generate_codes(model, memory_for_window, 4.0, sampling=GREEDY))
    custom = next(generate_codes(model, with_uncond, 4.0, sampling=GREEDY))
    assert not torch.equal(null, custom)


def test_three_second_clip_has_the_exact_length(tiny, text):
    model, _ = tiny
    audio = generate_audio(model, text[1], 3.0037, sampling=Sampling(seed=3))
    assert audio.shape == (1, round(3.0037 * 8000)) and audio.dtype == np.float32
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0


def test_seventy_seconds_go_through_three_windows_that_continue_each_other(tiny, text, monkeypatch):
    """Each window after the first is prompted with the start token and the previous window's last
    0.5 s of codes; its memory is asked for its own span; the audio has the exact length."""
    model, _ = tiny
    memory_for_window = text[1]
    calls, spans = [], []
    real_generate = model.decoder.generate

    def observed_generate(**kwargs):
        calls.append(kwargs["input_ids"].clone())
        return real_generate(**kwargs)

    monkeypatch.setattr(model.decoder, "generate", observed_generate)
    windows = []
    blocks = list(generate_codes(
        model, lambda s, e: spans.append((s, e)) or memory_for_window(s, e), 70.0, sampling=Sampling(seed=0),
        on_window=windows.append,
    ))
    assert len(windows) == len(blocks) == 3 and [b.shape[-1] for b in blocks] == [300, 295, 105]
    assert spans == [(0.0, 30.0), (29.5, 59.5), (59.0, 70.0)]
    codes = torch.cat(blocks, dim=-1)[0]
    start = model.generation_config.decoder_start_token_id
    assert calls[0].tolist() == [[start]] * 2
    for window, prompt in zip(windows[1:], calls[1:]):
        assert (prompt[:, 0] == start).all()
        assert torch.equal(prompt[:, 1:], codes[:, window.start : window.start + 5])
    audio = np.concatenate(list(decode_codes(model, blocks, 70 * 8000)), axis=-1)
    assert audio.shape == (1, 1, 560000)


def test_chunked_decode_matches_one_decode_and_streams(tiny, text, monkeypatch):
    """Cross-faded chunks sound like one decode of the whole stream, whatever the block sizes, and
    EnCodec never sees more than a chunk plus its overlap."""
    model, _ = tiny
    codes = torch.cat(list(generate_codes(model, text[1], 20.0, sampling=Sampling(seed=1))), dim=-1)
    whole = decode_chunk(model, codes)[0].numpy()
    sizes = []
    real_decode = model.audio_encoder.decode
    monkeypatch.setattr(model.audio_encoder, "decode", lambda c, s: sizes.append(c.shape[-1]) or real_decode(c, s))
    blocks = [codes[..., :33], codes[..., 33:120], codes[..., 120:]]
    chunked = np.concatenate(list(decode_codes(model, blocks, 160_000, chunk_s=3.0, overlap_s=0.5)), axis=-1)[0]
    assert chunked.shape == whole.shape == (1, 160_000)
    assert np.abs(chunked - whole).max() < 1e-2 * np.abs(whole).max()
    assert max(sizes) <= 35 and len(sizes) >= 6
    one_block = np.concatenate(list(decode_codes(model, [codes], 160_000, chunk_s=3.0, overlap_s=0.5)), axis=-1)[0]
    np.testing.assert_array_equal(chunked, one_block)


def test_decode_refuses_too_few_codes(tiny):
    model, _ = tiny
    with pytest.raises(ValueError, match="fewer"):
        list(decode_codes(model, [torch.zeros(1, 2, 10, dtype=torch.long)], 8001))


def test_shorter_than_the_delay_pattern(tmp_path):
    """With 4 codebooks the delay pattern needs at least 3 frames: a 50 ms piece still has its exact length."""
    from transformers import MusicgenForConditionalGeneration

    folder = make_tiny_musicgen(tmp_path / "k4", codebooks=4)
    model = MusicgenForConditionalGeneration.from_pretrained(folder, local_files_only=True).eval()
    memory = lambda s, e: (torch.randn(1, 3, 16), torch.ones(1, 3, dtype=torch.long), None, None)  # noqa: E731
    codes = list(generate_codes(model, memory, 0.05, sampling=Sampling(seed=0)))
    assert [c.shape for c in codes] == [(1, 4, 3)]
    assert generate_audio(model, memory, 0.05, sampling=Sampling(seed=0)).shape == (1, 400)
