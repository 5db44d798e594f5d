"""The score's chroma for MusicGen-melody: rate, shape, one-hot, pitch classes of chords and melody;
drums and bass left out."""

from __future__ import annotations

import numpy as np

from cuescore.music.chroma import CHROMA_FRAMES, CHROMA_RATE, WINDOW_S, melodic_tracks, score_chroma
from cuescore.music.score import Note, Score, Track
from cuescore.music.plan import TempoChange


def _score() -> Score:
    """0-2 s: C major pad under a melody E; 2-4 s: F major pad under a melody A; loud drums on C
    (pitch 36 and 48) and a loud bass on D throughout."""
    pad = Track("pad", 48, notes=[Note(p, 0.0, 2.0, 70) for p in (60, 64, 67)] +
                [Note(p, 2.0, 4.0, 70) for p in (65, 69, 72)])
    lead = Track("lead", 73, notes=[Note(76, 0.0, 2.0, 110), Note(81, 2.0, 4.0, 110)])
    drums = Track("drums", 0, is_drum=True, notes=[Note(p, t, t + 0.2, 127) for t in np.arange(0, 4, 0.25)
                                                   for p in (36, 48)])
    bass = Track("bass", 33, notes=[Note(38, 0.0, 4.0, 127)])
    return Score([pad, lead, drums, bass], [TempoChange(0.0, 120.0)], 4.0)


def test_rate_and_shape_are_musicgen_melodys():
    assert CHROMA_RATE == 7.8125 and CHROMA_FRAMES == 235
    chroma = score_chroma(_score())
    assert chroma.shape == (int(np.ceil(4.0 * CHROMA_RATE)), 12) and chroma.dtype == np.float32
    assert np.all(chroma.sum(axis=1) == 1.0) and set(np.unique(chroma)) == {0.0, 1.0}


def test_each_frame_holds_the_loudest_pitch_class_of_chords_and_melody():
    score = _score()
    assert [t.name for t in melodic_tracks(score)] == ["pad", "lead"]
    classes = score_chroma(score).argmax(axis=1)
    times = np.arange(classes.size) / CHROMA_RATE
    clear = np.abs(times - 2.0) > WINDOW_S / 2  # frames whose window does not straddle the chord change
    first, second = clear & (times < 2.0), clear & (times > 2.0)
    assert first.sum() > 8 and second.sum() > 8
    assert np.all(classes[first] == 4) and np.all(classes[second] == 9)  # E, then A: never the drums' C or the bass's D


def test_a_window_past_the_end_wraps_to_the_start():
    score = _score()
    window = score_chroma(score, 3.0, CHROMA_FRAMES)
    assert window.shape == (CHROMA_FRAMES, 12)
    times = 3.0 + np.arange(CHROMA_FRAMES) / CHROMA_RATE
    wrapped = np.mod(times, 4.0)
    inner = (np.abs(wrapped - 2.0) > WINDOW_S / 2) & (wrapped > WINDOW_S / 2) & (wrapped < 4.0 - WINDOW_S / 2)
    expected = np.where(wrapped < 2.0, 4, 9)
    assert np.array_equal(window.argmax(axis=1)[inner], expected[inner])


def test_silence_keeps_the_class_before_it():
    lead = Track("lead", 73, notes=[Note(67, 0.0, 1.0, 100)])
    chroma = score_chroma(Score([lead], [TempoChange(0.0, 120.0)], 3.0))
    assert np.all(chroma.argmax(axis=1) == 7)


def test_an_arranged_scores_chroma_names_a_note_sounding_in_each_frames_window(score):
    """The arranged 20 s plan: every frame's class is a melodic note sounding inside the extractor's
    window around it (never one only the bass or the drums play)."""
    chroma = score_chroma(score)
    assert chroma.shape == (int(np.ceil(score.duration * CHROMA_RATE)), 12)
    tracks = melodic_tracks(score)
    assert {t.name for t in tracks} == {t.name for t in score.tracks} - {"bass", "drums"}
    for i, cls in enumerate(chroma.argmax(axis=1)):
        t = i / CHROMA_RATE
        near = {n.pitch % 12 for tr in tracks for n in tr.notes
                if n.start < t + WINDOW_S / 2 and n.end > t - WINDOW_S / 2}
        assert not near or cls in near, (t, cls, near)
