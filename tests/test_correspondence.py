"""Correspondence metrics and harmony statistics on hand-made plans with known answers."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from cuescore.evaluation import (
    chord_changes, chord_stats, evaluate, evaluate_plan, load_plan, map_label, plan_stats, pop909_stats,
    read_chord_file,
)
from cuescore.errors import InputError
from cuescore.music.chords import Chord
from cuescore.music.plan import ChordSpan, Key, MusicPlan, TempoChange
from feature_fixtures import emotion_rows

CUTS = [1.0, 3.02, 5.3, 6.0]
"""On a beat, on a beat and a chord change, on neither, on a downbeat and a chord change."""
MOODS = [("exciting", 0.9), ("sad", 0.9), ("neutral", 0.9), ("relaxing", 0.7), ("relaxing", 0.85), ("tense", 0.95),
         ("fearful", 0.8), ("exciting", 0.5)]
"""Per second. Confident and not neutral: seconds 0, 1, 4, 5, 6; their chords C, C, F, G:7, C suit
exciting (yes), sad (no), relaxing (yes), tense (yes), fearful (no): 3 of 5."""
MOTION = [0, 0, 10, 10, 20, 20, 30, 30]
AROUSAL = [0.8, 0.8, 0.4, 0.4, 0.0, 0.0, -0.4, -0.4]


def hand_plan() -> MusicPlan:
    """8 s at 120 BPM in C major; chords C C | F | G:7 | C (changes at 3, 5, 6 s)."""
    beats = [i * 0.5 for i in range(16)]
    chords = [ChordSpan(0, 2, "C"), ChordSpan(2, 3, "C"), ChordSpan(3, 5, "F"), ChordSpan(5, 6, "G:7"),
              ChordSpan(6, 8, "C")]
    return MusicPlan(duration=8.0, tempo_map=[TempoChange(0.0, 120.0)], beats=beats, downbeats=beats[::4],
                     key=Key(0, "major"), chords=chords, density=[0, 1, 2, 3], energy=[0.8, 0.6, 0.4, 0.2],
                     cuts=CUTS, engine="hand", seed=0)


def rows() -> np.ndarray:
    return np.vstack([emotion_rows([name], p) for name, p in MOODS])


def test_chord_changes_ignore_repeats_and_the_start():
    assert chord_changes(hand_plan().chords) == [3, 5, 6]
    gap = [ChordSpan(0.5, 1, "C"), ChordSpan(2, 3, "C")]
    assert chord_changes(gap) == [0.5, 2]


def test_known_answers_from_the_plan_alone():
    p = hand_plan()
    m = evaluate(p, data={"emotion": rows().tolist(), "motion": MOTION, "arousal": AROUSAL})
    assert m["hard_cuts"] == 4
    assert m["cut_on_beat"] == 0.75 and m["cut_on_downbeat"] == 0.25 and m["cut_on_chord_change"] == 0.5
    assert m["emotion_correspondence"] == pytest.approx(0.6) and m["confident_seconds"] == 5
    assert m["motion_density_spearman"] == pytest.approx(1.0) and m["density_source"] == "plan"
    assert m["arousal_loudness_spearman"] == pytest.approx(1.0) and m["loudness_source"] == "plan"


def test_json_with_midi_and_wav_beside_it(tmp_path):
    p = hand_plan()
    path = tmp_path / "song.json"
    p.save_json(path, extra={"emotion": rows().tolist(), "motion": MOTION, "arousal": AROUSAL})
    assert load_plan(path)[0].chords == p.chords
    pm = pretty_midi.PrettyMIDI()
    keys, drums = pretty_midi.Instrument(0), pretty_midi.Instrument(0, is_drum=True)
    for second, count in enumerate([1, 1, 2, 2, 4, 4, 6, 6]):
        keys.notes += [pretty_midi.Note(80, 60 + k, second + k / 10, second + k / 10 + 0.1) for k in range(count)]
    drums.notes += [pretty_midi.Note(80, 36, t / 4, t / 4 + 0.1) for t in range(32, 0, -3)]
    pm.instruments += [keys, drums]
    pm.write(str(tmp_path / "song.mid"))
    rate = 8000
    t = np.arange(8 * rate) / rate
    level = np.repeat([0.8, 0.8, 0.4, 0.4, 0.1, 0.1, 0.05, 0.05], rate)  # falls with arousal
    sf.write(str(tmp_path / "song.wav"), level * np.sin(2 * np.pi * 220 * t), rate)
    m = evaluate_plan(path)
    assert m["density_source"] == "midi" and m["loudness_source"] == "wav"
    assert m["motion_density_spearman"] == pytest.approx(1.0)
    assert m["arousal_loudness_spearman"] == pytest.approx(1.0)
    assert m["emotion_correspondence"] == pytest.approx(0.6)


def test_missing_inputs_give_none(tmp_path):
    p = hand_plan()
    m = evaluate(p)
    assert m["emotion_correspondence"] is None and m["motion_density_spearman"] is None
    p.cuts = []
    assert evaluate(p)["cut_on_beat"] is None
    with pytest.raises(InputError, match="no such file"):
        evaluate_plan(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match="not a cuescore plan"):
        evaluate_plan(tmp_path / "bad.json")


@pytest.mark.parametrize("label, chord, how", [
    ("C:maj", Chord(0, "maj"), "exact"), ("A:min7", Chord(9, "min7"), "exact"), ("N", Chord.none(), "exact"),
    ("F#:maj7/5", Chord(6, "maj7"), "inversion dropped"), ("Bb:min/b3", Chord(10, "min"), "inversion dropped"),
    ("C:9", Chord(0, "7"), "nearest quality"), ("D:min9", Chord(2, "min7"), "nearest quality"),
    ("G:sus4(b7)", Chord(7, "sus4"), "nearest quality"), ("E:(1,5)", Chord(4, "maj"), "nearest quality"),
    ("C:minmaj7", Chord(0, "min"), "nearest quality"), ("A:7(#9)", Chord(9, "7"), "nearest quality"),
])
def test_map_label(label, chord, how):
    assert map_label(label) == (chord, how)


def test_chord_stats_known_answers(tmp_path):
    text = "0 4 C:maj\n4 6 C:maj\n6 8 F:maj\n8 9 Eb:maj\n9 10 G:9\n10 12 N\n12 14 C:maj\n"
    (tmp_path / "chord_midi.txt").write_text(text)
    spans, mapped = read_chord_file(tmp_path / "chord_midi.txt")
    assert mapped == {"G:9": "G:7"}
    s = chord_stats(spans, Key(0, "major"), beats=[i * 0.5 for i in range(28)])
    assert s["chords"] == 5 and s["diatonic_share"] == 0.8
    assert s["diatonic_time_share"] == round(11 / 12, 4)
    assert s["distinct_chords"] == 4 and s["chords_per_minute"] == round(5 / (14 / 60), 2)
    assert s["changes_per_minute"] == round(4 / (14 / 60), 2)
    assert (s["longest_run_seconds"], s["longest_run_beats"], s["longest_run_chord"]) == (6.0, 12, "C")
    assert plan_stats(hand_plan())["diatonic_share"] == 1.0


@pytest.mark.realmedia
def test_pop909_statistics(shared_media):
    songs = sorted(p for p in (shared_media / "midi" / "pop909").iterdir() if p.is_dir())
    stats = [pop909_stats(song) for song in songs]
    assert len(stats) == 10
    assert np.mean([s["diatonic_share"] for s in stats]) > 0.85
    assert all(10 < s["chords_per_minute"] < 60 for s in stats)


def test_correlations_leave_out_a_last_second_under_half_a_second():
    from cuescore.evaluation.correspondence import full_seconds
    assert [full_seconds(d) for d in (12.0, 10.01, 10.6, 0.3, 1.2)] == [12, 10, 11, 1, 1]


def test_emotion_correspondence_reads_a_short_last_second_inside_the_video():
    from cuescore.evaluation import emotion_correspondence

    plan = MusicPlan(duration=10.2, tempo_map=[TempoChange(0.0, 120.0)], beats=[i * 0.5 for i in range(21)],
                     downbeats=[i * 2.0 for i in range(6)], key=Key(0, "major"), chords=[ChordSpan(0, 10.2, "C")],
                     density=[1] * 6, energy=[0.5] * 6)
    share, seconds = emotion_correspondence(np.vstack([emotion_rows(["exciting"], 0.9)] * 11), plan)
    assert seconds == 11 and share == 1.0


def _rise_and_fall_clip(path, seconds: int = 24, fps: int = 15):
    """One shot of a soft texture panning at a speed that rises from 0 to 14 px per frame at the
    middle of the clip and falls back to 0: motion rises then falls, with no cut."""
    import cv2

    from video_factory import make_video

    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (120, 3200)).astype(np.float32), (0, 0), 14.0)
    texture = (texture - texture.min()) / np.ptp(texture) * 200 + 30
    frames, x = [], 0.0
    for i in range(seconds * fps):
        x += 14.0 * (1 - abs(2 * i / (seconds * fps) - 1))
        strip = np.roll(texture, -int(x), axis=1)[:, :160]
        frames.append(np.clip(np.stack([strip * 0.9, strip * 0.7, strip * 0.5], axis=-1), 0, 255).astype(np.uint8))
    return make_video(path, frames=frames, fps=fps, size=(160, 120))


def test_music_rises_and_falls_with_the_motion_of_the_picture(tmp_path):
    """Measured from the written files: note onsets per second of OUT.mid (drums excluded) and RMS
    level per second of OUT.wav against the analysed motion and arousal. Per second, onsets clump
    at chord changes and block chords, so density is also compared over two-second windows."""
    from cuescore import Controls, score_video
    from cuescore.evaluation.correspondence import density_per_second, full_seconds, loudness_per_second, spearman

    result = score_video(_rise_and_fall_clip(tmp_path / "pan.mp4"), tmp_path / "out.mp4", Controls(seed=0))
    motion = result.features.motion
    n = full_seconds(result.features.duration)
    assert spearman(motion[:n], np.abs(np.arange(n) - n / 2)) < -0.8  # the analysis saw motion rise then fall
    m = evaluate_plan(result.json)
    assert m["density_source"] == "midi" and m["loudness_source"] == "wav"
    assert m["arousal_loudness_spearman"] >= 0.8
    assert m["motion_density_spearman"] >= 0.6
    density, _ = density_per_second(result.plan, result.midi)
    loudness, _ = loudness_per_second(result.plan, result.wav)
    pairs = n // 2

    def window(x: np.ndarray) -> np.ndarray:
        return np.asarray(x[: 2 * pairs], float).reshape(pairs, 2).mean(axis=1)

    assert spearman(window(motion), window(density)) >= 0.8
    assert spearman(window(motion), window(loudness)) >= 0.8
