"""The arranger: parts follow the plan's chords, density, energy, cuts, accents, tempo map and end."""

import numpy as np
import pretty_midi
import pytest
from plan_fixtures import INSTRUMENTS, make_plan

from cuescore.music.arrange import DYNAMICS_DB, PARTS, arrange
from cuescore.music.drums import CRASH, KICK
from cuescore.music.humanize import HUMANIZE_MS, anchors
from cuescore.music.score import CC_EXPRESSION, Note, Score, Track
from cuescore.music.timeline import Timeline
from cuescore.music.voicing import chord_scale


def _bars(plan):
    ends = plan.downbeats[1:] + [plan.duration]
    return list(zip(plan.downbeats, ends))


def _full(plan, start, end):
    return sum(start <= b < end for b in plan.beats) == plan.beats_per_bar and end < plan.duration


def test_tracks_follow_the_instruments(plan, score):
    assert [t.name for t in score.tracks] == ["pad", "keys", "bass", "lead", "drums"]
    for track in score.tracks:
        assert track.program == INSTRUMENTS[track.name] and track.notes
    assert [t.is_drum for t in score.tracks] == [False, False, False, False, True]
    partial = arrange(make_plan(instruments={"pad": 89, "bass": 38}), seed=0)
    assert [(t.name, t.program) for t in partial.tracks] == [("pad", 89), ("bass", 38)]


def test_notes_stay_inside_the_plan(plan, score):
    for track in score.tracks:
        for note in track.notes:
            assert 0.0 <= note.start < note.end <= plan.duration + 1e-9
            assert 0 <= note.pitch <= 127 and 1 <= note.velocity <= 127


def test_pad_and_keys_play_tones_of_the_chord_of_their_span(plan, score):
    """...except that the keys rest in calm bars (density 0), where the pad holds the harmony."""
    tl = Timeline(plan)
    for span in plan.chords:
        tones = set(span.chord.pitch_classes)
        calm = tl.bar_at(span.start).density == 0 and span.start < tl.ending
        for name in ("pad", "keys"):
            sounding = [n for n in score.track(name).notes if n.start < span.end - 1e-6 and n.end > span.start + 1e-6]
            if name == "keys" and calm and tl.bar_at(span.end - 1e-3).density == 0:
                assert not [n for n in sounding if n.start >= span.start - 1e-6], span
                continue
            assert sounding, (name, span)
            assert {n.pitch % 12 for n in sounding} <= tones, (name, span)


def test_bass_plays_roots_fifths_and_documented_approach_notes(plan, score):
    approaches = 0
    for note in score.track("bass").notes:
        chord = plan.chord_at(note.start)
        if note.pitch % 12 in (chord.root, chord.pitch_classes[2]):
            continue
        following = plan.chord_at(note.end + 1e-3)
        step = min((note.pitch - following.root) % 12, (following.root - note.pitch) % 12)
        assert step in (1, 2), note
        assert any(abs(s.start - note.end) < 1e-6 for s in plan.chords), note
        assert (note.pitch % 12) in chord_scale(following, plan.key) or step == 1
        approaches += 1
    assert approaches >= 1


def test_lead_puts_chord_tones_on_strong_beats_and_scale_steps_between(plan, score):
    lead = score.track("lead").notes
    assert len(lead) >= 8
    strong = set(np.round(plan.downbeats, 6)) | {round(b, 6) for b in plan.beats[2::4]}
    for previous, note in zip([None] + lead[:-1], lead):
        chord = plan.chord_at(note.start)
        if round(note.start, 6) in strong:
            assert note.pitch % 12 in chord.pitch_classes, note
        else:
            assert note.pitch % 12 in chord_scale(chord, plan.key), note
            assert previous is None or abs(note.pitch - previous.pitch) <= 4
    assert 62 <= min(n.pitch for n in lead) and max(n.pitch for n in lead) <= 86


def _gestures(notes: list[Note], within: float = 0.09) -> int:
    """Onsets counted as a player would: a rolled chord (onsets closer than `within` s) is one."""
    times = sorted({n.start for n in notes})
    return sum(1 for a, b in zip([-1.0] + times, times) if b - a >= within)


def test_keys_onsets_grow_with_density(plan, score):
    onsets = {level: [] for level in range(5)}
    for (start, end), level in zip(_bars(plan), plan.density):
        if _full(plan, start, end) and start < Timeline(plan).ending:
            onsets[level].append(_gestures(score.notes_in(start, end, "keys")))
    means = [np.mean(onsets[level]) for level in range(5) if onsets[level]]
    assert means == sorted(means)
    assert np.mean(onsets[4]) >= 4 * np.mean(onsets[0])


def test_drums_follow_energy_and_mark_cuts(plan, score):
    drums = score.track("drums").notes
    cuts = set(np.round(plan.cuts, 6))
    for (start, end), energy in zip(_bars(plan), plan.energy):
        notes = [n for n in drums if start <= n.start < end and round(n.start, 6) not in cuts]
        if energy < 0.3:
            assert notes == [], (start, energy)
        elif _full(plan, start, end):
            assert {KICK} <= {n.pitch for n in notes}
    for cut in plan.cuts:
        assert any(n.pitch == CRASH and abs(n.start - cut) < 1e-6 for n in drums), cut
    busy = [len(score.notes_in(s, e, "drums")) for (s, e), en in zip(_bars(plan), plan.energy) if en >= 0.75]
    light = [len(score.notes_in(s, e, "drums")) for (s, e), en in zip(_bars(plan), plan.energy) if 0.3 <= en < 0.5]
    assert min(busy) > max(light)


def test_fill_in_the_beat_before_a_cut(plan, score):
    beat = 60.0 / plan.tempo_map[0].bpm
    for cut in plan.cuts:
        if plan.energy[plan.bar_index(cut - 0.01)] < 0.3:
            continue
        fill = [n for n in score.track("drums").notes if cut - beat - 1e-6 <= n.start < cut and n.pitch != KICK]
        assert len({round(n.start, 3) for n in fill}) >= 4, cut


def test_accents_are_louder_with_an_extra_hit(plan, score):
    tl = Timeline(plan)
    for accent in tl.accents:
        hits = [n for n in score.track("drums").notes if abs(n.start - accent) < 1e-6]
        assert {KICK, CRASH} <= {n.pitch for n in hits}
        bar = plan.bar_index(accent)
        start, end = _bars(plan)[bar]
        others = [n.velocity for n in score.notes_in(start, end, "drums")
                  if n.pitch == KICK and abs(n.start - accent) > 1e-6]
        assert max(n.velocity for n in hits if n.pitch == KICK) > np.mean(others)


def test_ending_holds_the_tonic_and_fades(plan, score):
    last = plan.chords[-1]
    for track in score.tracks:
        if track.is_drum:
            continue
        held = [n for n in track.notes if abs(n.end - plan.duration) < 1e-9]
        assert held, track.name
        assert {n.pitch % 12 for n in held} <= set(last.chord.pitch_classes)
        fade = [c for c in track.controls if c.number == CC_EXPRESSION]
        before = [c.value for c in fade if c.time <= Timeline(plan).ending]
        assert fade[0].time == 0.0 and min(before) >= round(127 * 10 ** (-DYNAMICS_DB / 40))
        assert fade[-1].value < 40 and abs(fade[-1].time - plan.duration) < 1e-6
    assert max(n.end for t in score.tracks for n in t.notes) == pytest.approx(plan.duration)


def test_notes_follow_a_changing_tempo_map():
    plan = make_plan(tempo_change=(4, 130.0))
    score = arrange(plan, seed=1)
    beats = np.asarray(plan.beats)
    grid = np.concatenate([beats[:-1, None] + np.diff(beats)[:, None] * np.arange(4) / 4]).ravel()
    loose = 2 * HUMANIZE_MS["bass"] / 1000.0  # the bass is humanised, the drums are not
    for note in score.track("drums").notes:
        assert np.abs(grid - note.start).min() < 1e-6, note
    for note in score.track("bass").notes:
        assert np.abs(grid - note.start).min() <= loose + 1e-6, note
    after = [n for n in score.track("drums").notes if n.start > plan.tempo_map[1].time + 0.01]
    gaps = np.diff(sorted({round(n.start, 6) for n in after}))
    assert gaps.min() == pytest.approx(60.0 / 130.0 / 4, abs=1e-6)


def test_other_metres_and_short_plans_keep_the_invariants():
    for plan in (make_plan(beats_per_bar=3), make_plan(duration=3.0), make_plan(duration=7.3, bpm=73.0)):
        score = arrange(plan, seed=2)
        for track in score.tracks:
            assert all(0.0 <= n.start < n.end <= plan.duration + 1e-9 for n in track.notes)
        for name in ("pad", "keys"):
            for note in score.track(name).notes:
                assert note.pitch % 12 in plan.chord_at(note.start).pitch_classes


def test_deterministic_per_seed(plan, score):
    again = arrange(plan, seed=0)
    assert again == score
    other = arrange(plan, seed=1)
    assert other != score
    assert other.track("keys").notes != score.track("keys").notes
    plan_seeded = make_plan()
    plan_seeded.seed = 7
    assert arrange(plan_seeded) == arrange(plan_seeded, seed=7)


def test_midi_round_trip_keeps_notes_tempo_and_drums(tmp_path):
    plan = make_plan(tempo_change=(4, 127.3))
    score = arrange(plan, seed=0)
    path = score.write_midi(tmp_path / "score.mid")
    pm = pretty_midi.PrettyMIDI(str(path))
    times, bpms = pm.get_tempo_changes()
    assert np.allclose(times, [0.0, plan.tempo_map[1].time], atol=1e-3)
    assert np.allclose(bpms, [100.0, 127.3], atol=1e-3)
    back = Score.from_midi(pm)
    parts = [(t.name, t.program, t.is_drum) for t in score.tracks]
    assert [(t.name, t.program, t.is_drum) for t in back.tracks] == parts
    assert back.tracks[-1].is_drum and pm.instruments[-1].is_drum
    for mine, theirs in zip(score.tracks, back.tracks):
        assert len(mine.notes) == len(theirs.notes)
        order = lambda n: (round(n.start, 3), n.pitch)  # noqa: E731
        for a, b in zip(sorted(mine.notes, key=order), sorted(theirs.notes, key=order)):
            assert (a.pitch, a.velocity) == (b.pitch, b.velocity)
            assert abs(a.start - b.start) < 1e-3 and abs(a.end - b.end) < 1e-3
    assert back.key == plan.key


def test_tidy_clips_and_separates_repeated_pitches():
    track = Track("t", 0, notes=[Note(60, 1.0, 3.0, 90), Note(60, 2.0, 2.5, 200), Note(62, -0.5, 9.0, 50)])
    track.tidy(5.0)
    assert track.notes == [Note(62, 0.0, 5.0, 50), Note(60, 1.0, 2.0, 90), Note(60, 2.0, 2.5, 127)]


def test_every_cut_keeps_its_crash_when_cuts_follow_closely():
    import dataclasses

    base = make_plan()
    b = base.beats

    def half(k: int) -> float:
        return (b[k] + b[k + 1]) / 2

    # cuts half a beat, one beat and one and a half beats apart, in loud and quiet bars
    cuts = [b[8], half(8), b[10], half(10), b[12], b[13], half(13), b[15], half(16), b[18], b[19], b[20],
            half(20), b[22], b[24], half(25), b[27]]
    plan = dataclasses.replace(base, cuts=sorted(cuts), marked_cuts=sorted(cuts))
    plan.validate()
    sixteenth = 60.0 / plan.tempo_map[0].bpm / 4
    for seed in range(4):
        drums = arrange(plan, seed=seed).track("drums").notes
        for cut in plan.cuts:
            assert any(n.pitch == CRASH and abs(n.start - cut) <= sixteenth / 2 + 1e-6 for n in drums), (seed, cut)


def _polyphony(score: Score, step: float = 0.02) -> float:
    """muspy's polyphony: the mean number of distinct pitches sounding (drums excluded) over the
    moments when at least one sounds, sampled every `step` seconds."""
    notes = [n for t in score.tracks if not t.is_drum for n in t.notes]
    counts = [len({n.pitch for n in notes if n.start <= t < n.end}) for t in np.arange(0, score.duration, step)]
    counts = [c for c in counts if c]
    return float(np.mean(counts))


@pytest.mark.parametrize("density", [0, 2, 4])
def test_textures_sound_as_many_pitches_at_once_as_pop_songs(density):
    """POP909's songs sound 3.4-5.2 distinct pitches at once (muspy polyphony); every part
    playing, at any density, stays in that range."""
    plan = make_plan(density=(density,))
    poly = _polyphony(arrange(plan, seed=3))
    assert 3.4 <= poly <= 5.2, poly


def test_pitched_parts_are_humanised_off_the_changes_and_cuts(plan, score):
    """Against each part as its writer wrote it: onsets off chord changes and cuts move by a few
    ms (seeded, within twice the part's spread), those on them stay exact; drums stay on the grid."""
    tl = Timeline(plan)
    fixed = anchors(tl)
    for index, (role, writer) in enumerate(PARTS.items()):
        written = writer(Timeline(plan), INSTRUMENTS[role], np.random.default_rng([0, index]))
        written.tidy(plan.duration)
        before = sorted((n.pitch, n.start) for n in written.notes)
        after = sorted((n.pitch, n.start) for n in score.track(role).notes)
        assert [b[0] for b in before] == [a[0] for a in after], role
        moves = np.array([a[1] - b[1] for b, a in zip(before, after)])
        on_anchor = np.array([np.abs(fixed - b[1]).min() < 1e-4 for b in before])
        assert np.all(moves[on_anchor] == 0), role
        limit = 2 * HUMANIZE_MS.get(role, 0.0) / 1000.0
        assert np.abs(moves).max() <= limit + 1e-9, role
        if role in ("keys", "bass", "lead"):
            assert np.mean(np.abs(moves[~on_anchor]) > 1e-4) > 0.8, role


def test_rhythm_and_dynamics_follow_the_curves_within_each_bar():
    """Bars all at density 2 and energy 0.5, but per-second curves calm in the first half of each
    2.4 s bar and busy in the second: the keys play more notes and every part sounds louder
    (velocity and expression) in the busy halves."""
    plan = make_plan(duration=19.2, bpm=100.0, density=(2,), energy=(0.5,))
    T = 20
    busy = np.array([(t + 0.5) % 2.4 >= 1.2 for t in range(T)])
    plan.activity = np.where(busy, 4.0, 0.5).tolist()
    plan.intensity = np.where(busy, 0.9, 0.2).tolist()
    score = arrange(plan, seed=0)
    ending = Timeline(plan).ending

    def in_busy(t: float) -> bool:
        return bool(busy[min(int(t), T - 1)]) and bool(busy[min(int(t + 0.1), T - 1)])

    def calm(t: float) -> bool:
        return not busy[min(int(t), T - 1)] and not busy[min(int(t + 0.1), T - 1)]

    keys = [n for n in score.track("keys").notes if n.start < ending]
    assert sum(in_busy(n.start) for n in keys) > 3 * sum(calm(n.start) for n in keys)
    for name in ("keys", "bass", "lead"):
        notes = [n for n in score.track(name).notes if n.start < ending]
        loud = [n.velocity for n in notes if in_busy(n.start)]
        soft = [n.velocity for n in notes if calm(n.start)]
        if loud and soft:
            assert np.mean(loud) > np.mean(soft) + 10, name
    cc = [c for c in score.track("pad").controls if c.number == CC_EXPRESSION and c.time < ending]
    assert np.mean([c.value for c in cc if in_busy(c.time)]) > np.mean([c.value for c in cc if calm(c.time)]) + 12


def test_the_lead_states_a_motif_repeats_it_in_a_returning_section_and_varies_it_in_a_new_one():
    """Sections A A B A at one density: every phrase of A opens with the same rhythm, for every
    seed (a motif drawn afresh per phrase matches in about one seed of four)."""
    from cuescore.music.melody import phrases
    from cuescore.music.plan import Section

    plan = make_plan(duration=48.0, bpm=100.0, density=(2,), energy=(0.6,))
    bars = plan.downbeats
    plan.sections = [Section(0.0, bars[4], "A"), Section(bars[4], bars[8], "A"), Section(bars[8], bars[12], "B"),
                     Section(bars[12], 48.0, "A")]
    tl = Timeline(plan)
    for seed in range(5):
        lead = arrange(plan, seed=seed).track("lead").notes
        sung: dict[str, list[tuple]] = {}
        for phrase in phrases(tl):
            first = [n for n in lead if phrase[0].start - 0.03 <= n.start < phrase[0].end - 0.03]
            if first:
                onsets = tuple(round(tl.position(n.start) - phrase[0].pos, 1) for n in first)
                sung.setdefault(phrase[0].section, []).append(onsets)
        assert len(sung.get("A", [])) >= 2 and len(set(sung["A"])) == 1, (seed, sung)
        assert "B" in sung, (seed, sung)


def test_swing_plays_the_off_beat_eighths_late_and_keeps_the_anchors():
    straight = make_plan(density=(3,), energy=(0.8,))
    swung = make_plan(density=(3,), energy=(0.8,))
    swung.swing = 1 / 6
    tl = Timeline(swung)
    fixed = anchors(tl)
    a, b = arrange(straight, seed=0), arrange(swung, seed=0)
    late = 0
    for name in ("drums", "keys"):
        for x, y in zip(a.track(name).notes, b.track(name).notes):
            pos = tl.position(x.start)
            off_beat = abs(pos - np.floor(pos) - 0.5) < 0.03 and np.min(np.abs(fixed - x.start)) > 1e-4
            if name == "drums":  # not humanised: exact positions
                assert tl.position(y.start) == pytest.approx(pos + (1 / 6 if off_beat else 0.0), abs=1e-6)
            late += off_beat and y.start > x.start + 0.05
    assert late >= 10


def _curved_plan(busy_at):
    """Bars at density 2 and energy 0.5 with per-second activity 4 where `busy_at(second)` holds, else 0.5."""
    plan = make_plan(duration=19.2, bpm=100.0, density=(2,), energy=(0.5,))
    busy = np.array([busy_at(t) for t in range(20)])
    plan.activity = np.where(busy, 4.0, 0.5).tolist()
    plan.intensity = np.where(busy, 0.9, 0.2).tolist()
    return plan, busy


def test_pad_and_bass_play_more_onsets_where_the_picture_is_busier():
    """Busy halves of each 2.4 s bar against calm ones: the pad re-strikes its chord on busy beats
    (it only re-voiced at chord changes before) and the bass's rhythm follows the activity, so that
    note density per second follows motion beyond the keys."""
    plan, _ = _curved_plan(lambda t: (t + 0.5) % 2.4 >= 1.2)
    score = arrange(plan, seed=0)
    tl = Timeline(plan)
    for name in ("pad", "bass"):
        levels = [tl.level_at(n.start + 0.05) for n in score.track(name).notes if n.start < tl.ending]
        loud, soft = sum(level >= 3 for level in levels), sum(level == 0 for level in levels)
        assert loud >= 4 * max(soft, 1), (name, loud, soft)


@pytest.mark.parametrize("busy_end", [True, False])
def test_the_keys_keep_moving_over_the_final_chord_while_the_picture_is_busy(busy_end):
    """Over the held final chord: a rising arpeggio of its tones, two notes a beat or more, where
    the last seconds are busy; only the held chord where they are calm."""
    plan, _ = _curved_plan(lambda t: busy_end and t >= 15)
    tl = Timeline(plan)
    keys = [n for n in arrange(plan, seed=0).track("keys").notes if n.start >= tl.ending - 1e-6]
    final = set(plan.chords[-1].chord.pitch_classes)
    assert {n.pitch % 12 for n in keys} <= final
    struck = {round(n.start, 2) for n in keys if n.start > tl.ending + 0.2}
    beats = sum(tl.ending <= b < plan.duration for b in plan.beats)
    if busy_end:
        assert len(struck) >= 2 * (beats - 1)
    else:
        assert not struck


def test_pitched_parts_strike_a_marked_cut_harder():
    """Without drums a cut must still be heard on its beat: notes of the keys and the bass that
    start on a marked cut are played 16 velocity steps louder than the same notes unmarked."""
    plan = make_plan(instruments={"keys": 0, "bass": 33})
    unmarked = make_plan(instruments={"keys": 0, "bass": 33})
    unmarked.marked_cuts = []
    for index, role in enumerate(("keys", "bass")):
        marked_notes, plain_notes = (PARTS[role](Timeline(p), 0, np.random.default_rng(index)).notes
                                     for p in (plan, unmarked))
        at_cut = [(a.velocity, b.velocity) for a, b in zip(marked_notes, plain_notes)
                  if any(abs(a.start - c) < 1e-6 for c in plan.marked_cuts)]
        assert at_cut and all(a == min(127, b + 16) for a, b in at_cut), (role, at_cut)
