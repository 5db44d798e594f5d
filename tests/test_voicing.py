"""Voicing: chord tones in range, smooth voice leading, bass notes, scales."""

import pytest

from cuescore.music.chords import parse_chord, parse_progression
from cuescore.music.plan import Key
from cuescore.music.voicing import (
    bass_note,
    chord_scale,
    fifth_note,
    nearest_pitch,
    scale_pitch_classes,
    voice_chord,
)

PROGRESSION = parse_progression("Am F C G Am Dm E:7 Am C:maj7 F:maj6 B:hdim7 E:sus4 E A:min7")


def _movement(a: list[int], b: list[int]) -> int:
    return sum(abs(x - y) for x, y in zip(sorted(a), sorted(b)))


def test_voicing_holds_every_chord_tone_within_range():
    previous = None
    for chord in PROGRESSION:
        voicing = voice_chord(chord, previous, low=48, high=72, voices=4)
        assert voicing == sorted(voicing) and len(set(voicing)) == 4
        assert all(48 <= p <= 72 for p in voicing)
        assert {p % 12 for p in voicing} == set(chord.pitch_classes)
        previous = voicing


def test_voice_leading_moves_less_than_root_position_chords():
    led, previous = 0, None
    block, previous_block = 0, None
    for chord in PROGRESSION:
        voicing = voice_chord(chord, previous, voices=4)
        root_position = sorted(48 + (chord.root - 48) % 12 + i for i in (0, *[
            (pc - chord.root) % 12 for pc in chord.pitch_classes[1:]]))[:4]
        root_position += [root_position[0] + 12] * (4 - len(root_position))
        if previous is not None:
            led += _movement(voicing, previous)
            block += _movement(root_position, previous_block)
        previous, previous_block = voicing, root_position
    assert led < block / 2
    assert voice_chord(parse_chord("F"), [57, 60, 64, 69]) == [57, 60, 65, 69]  # Am → F: one voice moves a semitone


def test_first_voicing_is_close_root_position_near_the_middle():
    assert voice_chord(parse_chord("C"), None) == [60, 64, 67]
    assert voice_chord(parse_chord("N"), None) == []


def test_fewer_voices_than_tones_keeps_root_and_third():
    voicing = voice_chord(parse_chord("G:7"), None, voices=3)
    assert {p % 12 for p in voicing} == {7, 11, 5}


def test_impossible_range_raises():
    with pytest.raises(ValueError, match="cannot voice"):
        voice_chord(parse_chord("C"), None, low=60, high=62, voices=3)


def test_bass_note_and_fifth():
    assert bass_note(parse_chord("E")) == 40
    assert bass_note(parse_chord("C"), octave_low=36) == 36
    assert bass_note(parse_chord("B"), octave_low=36) == 47
    assert fifth_note(parse_chord("A:min"), 45) == 52
    assert fifth_note(parse_chord("B:dim"), 47) == 53
    with pytest.raises(ValueError):
        bass_note(parse_chord("N"))


def test_scales_and_chord_scales():
    a_minor = Key(9, "minor")
    assert scale_pitch_classes(a_minor) == (9, 11, 0, 2, 4, 5, 7)
    assert scale_pitch_classes(Key(0, "major")) == (0, 2, 4, 5, 7, 9, 11)
    assert set(parse_chord("F").pitch_classes) <= set(scale_pitch_classes(a_minor))
    assert not set(parse_chord("E").pitch_classes) <= set(scale_pitch_classes(a_minor))
    e_scale = chord_scale(parse_chord("E"), a_minor)
    assert 8 in e_scale and 7 not in e_scale and len(e_scale) == 7
    assert chord_scale(parse_chord("A:min"), a_minor) == tuple(sorted(scale_pitch_classes(a_minor)))
    assert nearest_pitch((9,), 62) == 57 and nearest_pitch((9,), 64) == 69
