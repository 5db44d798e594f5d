"""The `guided` engine: the affective plan and score, played by a tiny random MusicGen-melody saved to
a folder and loaded through the real loading code; the score's chroma; `--mix`."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("torch")
pytest.importorskip("transformers")

from cli_runner import cli  # noqa: E402
from cuescore.controls import Controls  # noqa: E402
from cuescore.engines import get_engine  # noqa: E402
from feature_fixtures import make_features  # noqa: E402
from musicgen_fixtures import make_tiny_musicgen_melody  # noqa: E402
from video_factory import make_video  # noqa: E402


@pytest.fixture(scope="module")
def melody_dir(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    return make_tiny_musicgen_melody(tmp_path_factory.mktemp("melody") / "tiny-musicgen-melody")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 3 s, 10 fps clip with changing colours."""
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", n_frames=30, fps=10, size=(96, 64))


def _video_packets(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [bytes(p) for p in container.demux(stream) if p.size > 0]


def _generate(clip, out, *args):
    code, _, err = cli("generate", clip, "-o", out, "--engine", "guided", "--seed", "3", *args)
    assert code == 0, err
    return json.loads(out.with_suffix(".json").read_text())


def test_guided_scores_a_clip_to_its_exact_length_with_plan_and_midi(melody_dir, clip, tmp_path):
    out = tmp_path / "guided.mp4"
    data = _generate(clip, out, "--music-model", melody_dir, "--prompt", "gentle piano")
    audio, rate = sf.read(out.with_suffix(".wav"), always_2d=True)
    assert rate == 8000 and audio.shape[0] == 3 * 8000 and np.abs(audio).max() > 0.01
    assert _video_packets(out) == _video_packets(clip)
    with av.open(str(out)) as container:
        assert container.streams.audio[0].sample_rate == 8000
    assert out.with_suffix(".mid").is_file() and data["chords"] and data["beats"]
    record = data["engine_record"]
    assert record["parts"] == {"plan": "affective", "score": "affective", "midi": "affective", "audio": "neural"}
    assert record["music_model"] == str(melody_dir) and record["windows"] == [[0.0, 3.0]]
    caption = record["captions"][0]
    assert caption.startswith("gentle piano. ") and f"{round(data['tempo_bpm'])} BPM" in caption
    assert record["planner"] == "affective" and "roman_numerals" in record["planner_record"]
    assert data["soundfont"] is None
    code, printed, err = cli("evaluate", out)  # the scored video: its own sound, its OUT.json's cuts and plan
    assert code == 0, err
    metrics = json.loads(printed)
    assert {"cut_on_beat", "audio_cut_on_beat", "audio_tempo_bpm"} <= set(metrics)
    assert metrics["tempo_agreement"]["plan_tempo_bpm"] == round(data["tempo_bpm"], 3)
    assert metrics["chord_agreement"]["spans"]


def test_mix_blends_the_render_at_its_rate(melody_dir, clip, tmp_path):
    out = tmp_path / "blend.mp4"
    data = _generate(clip, out, "--music-model", melody_dir, "--mix", "0.5")
    info = sf.info(str(out.with_suffix(".wav")))
    assert info.samplerate == 44100 and info.frames == 3 * 44100
    assert data["engine_record"]["parts"]["audio"] == "blend: 0.5 neural + 0.5 soundfont"
    assert data["soundfont"] is not None and data["engine_record"]["generation_s"] > 0


def test_mix_zero_generates_nothing_and_is_the_affective_render(clip, tmp_path):
    """No model is needed or loaded: the soundtrack is exactly the affective engine's."""
    guided = _generate(clip, tmp_path / "g.mp4", "--mix", "0", "--music-model", "/nowhere/melody")
    code, _, err = cli("generate", clip, "-o", tmp_path / "a.mp4", "--seed", "3")
    assert code == 0, err
    assert np.array_equal(sf.read(tmp_path / "g.wav")[0], sf.read(tmp_path / "a.wav")[0])
    record = guided["engine_record"]
    assert record["parts"]["audio"] == "soundfont" and record["windows"] == [] and record["generation_s"] == 0
    assert (tmp_path / "g.mid").read_bytes() == (tmp_path / "a.mid").read_bytes()


def test_guided_needs_a_music_model_unless_mix_is_zero(clip, tmp_path):
    code, _, err = cli("generate", clip, "-o", tmp_path / "x.mp4", "--engine", "guided")
    assert code == 2 and "engine guided needs --music-model" in err and err.count("\n") == 1
    code, _, err = cli("generate", clip, "-o", tmp_path / "x.mp4", "--engine", "guided", "--mix", "1.5")
    assert code == 2 and "--mix '1.5' is not allowed" in err
    assert list(tmp_path.iterdir()) == []


def test_seventy_seconds_in_three_windows_each_with_its_chroma(melody_dir, monkeypatch):
    """Each window reads the chroma of the 30 s from its own start (its token prompt's region included)."""
    from cuescore.engines import guided

    asked, real = [], guided.score_chroma

    def recording(score, start_s, frames):
        chroma = real(score, start_s, frames)
        asked.append((start_s, chroma.shape))
        return chroma

    monkeypatch.setattr(guided, "score_chroma", recording)
    features = make_features(70.0, cuts=[35.0], emotion=["sad", "exciting"])
    engine = get_engine("guided", Controls(seed=1), music_model=str(melody_dir), guidance=1.0)
    composition = engine.compose(features)
    assert composition.audio.samples.shape == (1, 70 * 8000) and composition.score is not None
    assert composition.record.windows == [[0.0, 30.0], [29.5, 59.5], [59.0, 70.0]]
    assert asked == [(0.0, (235, 12)), (29.5, (235, 12)), (59.0, (235, 12))]
    assert "sad" in composition.record.captions[0] and "joyful" in composition.record.captions[2]


def test_one_window_matches_the_models_own_generate(melody_dir):
    """Greedy decoding with guidance: the windowed path (prefix + the model's null condition) gives
    the same audio as `MusicgenMelodyForConditionalGeneration.generate` with `input_features`."""
    import torch

    from cuescore.models.codec_generate import Sampling, generate_audio
    from cuescore.models.codec_model import load_music_model, load_music_tokenizer
    from cuescore.models.melody_generate import MelodyCondition, prefix_window

    music, tokenizer = load_music_model(melody_dir, melody=True), load_music_tokenizer(melody_dir)
    chroma = np.eye(12, dtype=np.float32)[np.random.default_rng(0).integers(0, 12, 40)]
    text = "calm piano with strings"
    for guidance in (1.0, 8.0):
        condition = MelodyCondition(music, lambda start_s: chroma, caption=lambda a, b: text, tokenizer=tokenizer,
                                    guidance=guidance)
        ours = generate_audio(music, condition, 3.0, sampling=Sampling(guidance=guidance, temperature=0),
                              window_fn=prefix_window)
        with torch.no_grad():
            theirs = music.generate(**tokenizer(text, return_tensors="pt"),
                                    input_features=torch.from_numpy(chroma)[None], do_sample=False,
                                    guidance_scale=guidance if guidance > 1 else None, max_new_tokens=31)[0].numpy()
        assert ours.shape == (1, 24000)
        np.testing.assert_allclose(ours[:, :20000], theirs[:, :20000], atol=1e-6)


def test_the_chroma_prefix_changes_the_music(melody_dir):
    from cuescore.models.codec_generate import Sampling, generate_codes
    from cuescore.models.codec_model import load_music_model
    from cuescore.models.melody_generate import MelodyCondition, prefix_window

    music = load_music_model(melody_dir, melody=True)
    codes = []
    for pitch_class in (0, 7):
        chroma = np.eye(12, dtype=np.float32)[[pitch_class] * 40]
        condition = MelodyCondition(music, lambda start_s, c=chroma: c, guidance=3.0)
        blocks = generate_codes(music, condition, 3.0, sampling=Sampling(guidance=3.0, temperature=0),
                                window_fn=prefix_window)
        codes.append(np.concatenate([b.numpy() for b in blocks], axis=-1))
    assert codes[0].shape == codes[1].shape and not np.array_equal(codes[0], codes[1])


def test_prefix_and_null_are_the_models_own(melody_dir):
    """The conditional prefix and the null prefix equal what MusicGen-melody's own `generate` builds
    from `input_features` and text with guidance, and the decoder's guidance pairs them (not zeros)."""
    import torch
    from transformers import GenerationConfig

    from cuescore.models.codec_model import load_music_model, load_music_tokenizer
    from cuescore.models.melody_generate import MelodyCondition, _null_prefix

    music, tokenizer = load_music_model(melody_dir, melody=True), load_music_tokenizer(melody_dir)
    chroma = np.eye(12, dtype=np.float32)[np.random.default_rng(1).integers(0, 12, 50)]
    text = "dark strings"
    tokens = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        given = {"attention_mask": tokens.attention_mask, "input_features": torch.from_numpy(chroma)[None]}
        theirs = music._prepare_encoder_hidden_states_kwargs_for_generation(
            tokens.input_ids, given, "input_ids", GenerationConfig(guidance_scale=3.0))["encoder_hidden_states"]
        condition = MelodyCondition(music, lambda start_s: chroma, caption=lambda a, b: text, tokenizer=tokenizer)
        prefix, null = condition(0, 3)
    assert prefix.shape == (1, 235 + tokens.input_ids.shape[1], 32)
    torch.testing.assert_close(torch.cat([prefix, null]), theirs)
    ids = torch.full((2, 1), 32)
    with _null_prefix(music.decoder, null):
        inputs = music.decoder.prepare_inputs_for_generation(ids, encoder_hidden_states=prefix, guidance_scale=3.0,
                                                             delay_pattern_mask=torch.full((2, 1), -1),
                                                             is_first_iteration=True)
    torch.testing.assert_close(inputs["encoder_hidden_states"], theirs)
    assert "prepare_inputs_for_generation" not in vars(music.decoder)


def test_the_amt_engine_can_write_the_plan(melody_dir):
    """--planner amt: the AMT ('debug' checkpoint) writes plan and score, the melody model plays them."""
    features = make_features(4.0, cuts=[2.0])
    features.semantic = np.random.default_rng(0).normal(size=(features.T, 16)).astype(np.float32)
    features.encoder = {"name": "debug", "id": "debug", "dim": 16}
    engine = get_engine("guided", Controls(seed=2), planner="amt", checkpoint="debug", music_model=str(melody_dir),
                        guidance=1.0, device="cpu")
    composition = engine.compose(features)
    record = composition.record
    assert record.parts == {"plan": "amt", "score": "amt", "midi": "amt", "audio": "neural"}
    assert record.planner_record["checkpoint"] == "debug" and composition.plan.engine == "amt"
    assert composition.audio.samples.shape == (1, 4 * 8000) and composition.score.tracks


@pytest.mark.parametrize("options, message", [
    ({"planner": "amt", "mix": 0.0}, "--planner amt needs --checkpoint DIR"),
    ({"checkpoint": "debug", "mix": 0.0}, "--checkpoint applies to engine guided only with --planner amt"),
])
def test_planner_and_checkpoint_go_together(options, message):
    from cuescore.errors import OptionError

    with pytest.raises(OptionError, match=message):
        get_engine("guided", Controls(), **options)
