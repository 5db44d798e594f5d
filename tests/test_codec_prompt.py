"""The zero-training prompt: captions for stock MusicGen written from the video analysis."""

from __future__ import annotations

import numpy as np

from cuescore.controls import Controls
from cuescore.engines.codec_prompt import PromptWriter, energy_words, mood_words, tempo_words
from feature_fixtures import make_features


def test_mood_words_follow_valence_and_arousal():
    assert mood_words(-0.6, -0.5) == "sad, melancholic"
    assert mood_words(0.6, 0.8) == "joyful, uplifting"
    assert mood_words(-0.4, 0.5) == "dark, tense, dramatic"
    assert mood_words(0.0, 0.0) == "reflective, thoughtful"


def test_energy_words_give_level_and_arc():
    assert energy_words(np.linspace(0.2, 0.9, 30)) == "moderate, building up"
    assert energy_words(np.linspace(0.9, 0.7, 30)) == "powerful, winding down"
    assert energy_words(np.full(30, 0.2)) == "soft, steady"
    assert energy_words(np.r_[np.full(10, 0.5), np.full(10, 0.9), np.full(10, 0.5)]) == "moderate, rising to a peak"


def test_tempo_words():
    assert tempo_words(72.4) == "slow, 72 BPM" and tempo_words(128.0) == "fast, 128 BPM"


def test_caption_follows_the_video_and_the_user():
    calm = make_features(60.0, emotion="sad", motion=1.0, flow=0.1)
    busy = make_features(60.0, emotion="exciting", motion=30.0, flow=4.0)
    sad = PromptWriter.from_features(calm, Controls()).for_span(0.0, 30.0)
    joyful = PromptWriter.from_features(busy, Controls()).for_span(0.0, 30.0)
    assert "sad, melancholic" in sad and "joyful, uplifting" in joyful
    slow_bpm, fast_bpm = (int(text.split(" BPM")[0].rsplit(" ", 1)[1]) for text in (sad, joyful))
    assert slow_bpm < fast_bpm
    mine = PromptWriter.from_features(calm, Controls(tempo=90.0, instruments="rock", key="A minor"), "lo-fi  hip hop.")
    text = mine.for_span(30.0, 60.0)
    assert text.startswith("lo-fi  hip hop. rock band") and "90 BPM" in text and text.endswith("in A minor")


def test_each_window_reads_its_own_mood():
    features = make_features(60.0, cuts=[30.0], emotion=["sad", "exciting"])
    writer = PromptWriter.from_features(features, Controls())
    assert "sad" in writer.for_span(0.0, 30.0) and "joyful" in writer.for_span(30.0, 60.0)
    assert writer.for_span(0.0, 30.0).split(", ")[-1] == writer.for_span(30.0, 60.0).split(", ")[-1]  # one tempo


def test_weight_emotion_zero_is_neutral():
    features = make_features(30.0, emotion="fearful")
    assert "reflective" in PromptWriter.from_features(features, Controls(weight_emotion=0.0)).for_span(0, 30)
