"""Rendering with the real bundled SoundFont: length, audibility, loudness, peaks, errors."""

import numpy as np
import pytest

from cuescore.errors import InputError, OptionError
from cuescore.media.audio import Audio
from cuescore.music.chords import Chord
from cuescore.music.plan import TempoChange
from cuescore.music.score import Note, Score, Track
from cuescore.render import available_synths, master, synthesize
from cuescore.render.master import loudness, true_peak
from cuescore.render.midi import NOTE_OFF, NOTE_ON, read_midi, score_events
from cuescore.render.synth import default_soundfont

SR = 44100


@pytest.fixture(scope="module")
def dry(score):
    return synthesize(score)


@pytest.fixture(scope="module")
def mastered(dry):
    return master(dry)


def test_render_has_the_exact_length_and_shape(plan, dry):
    assert dry.sample_rate == SR and dry.channels == 2 and dry.samples.dtype == np.float32
    assert dry.samples.shape[1] == int(np.ceil(plan.duration * SR))
    odd = Score([Track("keys", 0, notes=[Note(60, 0.0, 1.0, 90)])], [TempoChange(0.0, 120.0)], 1.23456)
    assert synthesize(odd, sample_rate=22050).samples.shape == (2, int(np.ceil(1.23456 * 22050)))


def test_render_sounds_wherever_the_score_has_notes(score, dry, mastered):
    """Within 40 dB of the loudest second wherever notes sound (the score's dynamics follow its
    energy, and the dry render's absolute level is mastering's to set), and above -40 dBFS once mastered."""
    for audio, floor in ((dry, None), (mastered, 10 ** (-40 / 20))):
        per_second = audio.samples[:, : 19 * SR].reshape(2, 19, SR)
        rms = np.sqrt((per_second ** 2).mean(axis=(0, 2)))
        for second, value in enumerate(rms):
            if score.notes_in(second - 2.0, second + 1.0):
                assert value > (floor or rms.max() * 10 ** (-40 / 20)), (second, value)


def test_master_reaches_the_target_loudness_without_clipping(dry, mastered):
    assert abs(loudness(mastered) - (-14.0)) <= 1.0
    assert np.abs(mastered.samples).max() <= 0.891 + 1e-4
    assert true_peak(mastered.samples) <= 0.891 + 1e-3
    assert np.all(np.isfinite(mastered.samples)) and mastered.samples.shape == dry.samples.shape
    end = mastered.samples[:, -200:]
    assert np.abs(end).max() < 0.01  # faded out
    quieter = master(dry, target_lufs=-23.0, reverb=0.0)
    assert abs(loudness(quieter) - (-23.0)) <= 1.0


def test_silence_stays_silent():
    silent = master(Audio(np.zeros((2, SR), np.float32), SR))
    assert np.all(silent.samples == 0.0)
    empty = Score([Track("pad", 48)], [TempoChange(0.0, 100.0)], 2.0)
    audio = synthesize(empty)
    assert audio.samples.shape == (2, 2 * SR) and np.all(audio.samples == 0.0)
    assert np.all(master(audio).samples == 0.0)


def test_rendered_chords_match_the_plan(plan, mastered):
    librosa = pytest.importorskip("librosa")
    y = mastered.samples.mean(axis=0)
    chroma = librosa.feature.chroma_cqt(y=y, sr=SR, hop_length=1024)
    times = librosa.frames_to_time(np.arange(chroma.shape[1]), sr=SR, hop_length=1024)

    def template(chord: Chord) -> np.ndarray:
        v = np.zeros(12)
        v[list(chord.pitch_classes)] = 1.0
        return v - v.mean()

    candidates = [Chord(r, q) for r in range(12) for q in ("maj", "min")]
    matched = 0
    for span in plan.chords:
        profile = chroma[:, (times >= span.start + 0.1) & (times < span.end - 0.05)].mean(axis=1)
        profile = profile - profile.mean()
        corr = float(profile @ template(span.chord) / np.linalg.norm(profile) / np.linalg.norm(template(span.chord)))
        assert corr > 0.5, (span, corr)
        best = max(candidates, key=lambda c: profile @ template(c) / np.linalg.norm(template(c)))
        matched += best.root == span.chord.root
    assert matched == len(plan.chords)


def test_events_put_note_offs_first_and_drums_on_channel_ten(score):
    events = score_events(score, SR)
    assert [e.sample for e in events] == sorted(e.sample for e in events)
    assert {e.channel for e in events if e.kind == NOTE_ON and e.a in (36, 49)} >= {9}
    first_on = {}
    for e in events:
        if e.kind == NOTE_ON:
            first_on.setdefault(e.sample, e)
        if e.kind == NOTE_OFF and e.sample in first_on:
            pytest.fail("a note-off came after a note-on at the same sample")


def test_soundfont_and_synth_errors(tmp_path, score):
    assert "tinysoundfont" in available_synths()
    assert default_soundfont().is_file()
    with pytest.raises(InputError, match="no such SoundFont"):
        synthesize(score, soundfont=tmp_path / "missing.sf2")
    corrupt = tmp_path / "corrupt.sf2"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00sfbk" + bytes(range(256)) * 4)
    with pytest.raises(InputError) as err:
        synthesize(score, soundfont=corrupt)
    assert "\n" not in str(err.value)
    not_sf = tmp_path / "text.sf2"
    not_sf.write_text("hello")
    with pytest.raises(InputError, match="not a SoundFont"):
        synthesize(score, soundfont=not_sf)
    with pytest.raises(OptionError, match="unknown synth"):
        synthesize(score, synth="nonesuch")


def test_read_midi_round_trip_and_errors(tmp_path, score):
    path = score.write_midi(tmp_path / "a.mid")
    back = read_midi(path)
    assert [len(t.notes) for t in back.tracks] == [len(t.notes) for t in score.tracks]
    assert [t.volume for t in back.tracks] == [t.volume for t in score.tracks]
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    with pytest.raises(InputError, match="not a readable MIDI"):
        read_midi(bad)
    with pytest.raises(InputError, match="no such MIDI"):
        read_midi(tmp_path / "none.mid")


def test_parallel_render_equals_the_serial_one(long_score):
    serial = synthesize(long_score, workers=1).samples
    for workers in (2, 3):
        parallel = synthesize(long_score, workers=workers).samples
        assert parallel.shape == serial.shape and parallel.dtype == np.float32
        assert np.array_equal(parallel, serial)


def test_parallel_render_survives_a_failing_worker(long_score, monkeypatch):
    import os

    from cuescore.render import parallel
    from cuescore.render.synth import SYNTHS

    parent = os.getpid()
    backend = SYNTHS["tinysoundfont"]()
    real = backend.render

    def render(*args, **kwargs):
        if os.getpid() != parent:
            raise RuntimeError("worker dies")
        return real(*args, **kwargs)

    monkeypatch.setattr(backend, "render", render)
    n, events = int(np.ceil(long_score.duration * SR)), score_events(long_score, SR)
    out = parallel.render_parallel(backend, events, n, SR, default_soundfont(), workers=2)
    np.testing.assert_allclose(out, parallel.render_parallel(backend, events, n, SR, default_soundfont(), workers=1),
                               atol=1e-5)


def test_soundfont_regions_give_release_tails_and_voices():
    from cuescore.render.soundfont import channel_regions, preset_regions

    strings = channel_regions(default_soundfont(), 48, drums=False)
    assert 2.0 < max(r.release for r in strings) < 4.0  # TimGM6mb's strings ring ~3 s after note-off
    assert sum(r.plays(60, 100) for r in strings) >= 2  # layered: several voices per note
    assert preset_regions(default_soundfont(), 5, 5) is None
    assert channel_regions(default_soundfont(), 127, drums=True)  # a missing kit falls back to the standard one


def test_band_limited_parts_render_at_half_rate_without_changing_their_sound(monkeypatch):
    from scipy.signal import welch

    from cuescore.render import synth as synth_module

    pad = Track("pad", 48, notes=[Note(p, 0.5, 3.0, 90) for p in (57, 60, 64, 67)])
    drums = Track("drums", 0, is_drum=True, notes=[Note(42, 0.5 + 0.25 * k, 0.6 + 0.25 * k, 100) for k in range(8)])
    score = Score([pad, drums], [TempoChange(0.0, 120.0)], 4.0)
    low, full = synth_module._split_by_bandwidth(score, SR, default_soundfont())
    assert [t.name for t in low.tracks] == ["pad"] and [t.name for t in full.tracks] == ["drums"]
    strings = Score([pad], [TempoChange(0.0, 120.0)], 4.0)
    half = synthesize(strings, workers=1).samples
    monkeypatch.setattr(synth_module, "HALF_RATE_SHARE", 0.0)  # nothing qualifies: all at full rate
    whole = synthesize(strings, workers=1).samples
    assert half.shape == whole.shape
    f, p_half = welch(half[0, SR: 3 * SR], SR, nperseg=8192)
    _, p_whole = welch(whole[0, SR: 3 * SR], SR, nperseg=8192)
    for lo, hi in ((0, 1000), (1000, 3000), (3000, 6000), (6000, 9000)):
        band = (f >= lo) & (f < hi)
        assert abs(10 * np.log10(p_half[band].sum() / p_whole[band].sum())) < 1.5, (lo, hi)


def test_upsampling_is_flat_below_the_edge_and_quiet_above_its_mirror():
    from cuescore.render.synth import upsample2

    rate = SR // 2
    t = np.arange(2 * rate) / rate
    for freq, expect in ((1000.0, 1.0), (8000.0, 1.0)):
        y = upsample2(np.sin(2 * np.pi * freq * t)[None].astype(np.float32))[0, 400:-400]
        assert np.sqrt(2 * (y ** 2).mean()) == pytest.approx(expect, abs=0.01)
    y = upsample2(np.sin(2 * np.pi * 9000.0 * t)[None].astype(np.float32))[0]
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    image = spectrum[np.abs(freqs - (rate - 9000.0)) < 50].max()  # 9 kHz mirrored about 11.025 kHz
    assert 20 * np.log10(image / spectrum.max()) < -60


@pytest.fixture(scope="module")
def long_score():
    from plan_fixtures import make_plan

    from cuescore.music.arrange import arrange

    return arrange(make_plan(duration=64.0), seed=1)


def test_render_and_master_are_bit_identical_for_any_number_of_workers(long_score, tmp_path, monkeypatch):
    import importlib

    import soundfile as sf

    from cuescore.media.audio import write_wav

    master_module = importlib.import_module("cuescore.render.master")

    written = []
    for workers in (1, 2):
        monkeypatch.setattr(master_module, "idle_workers", lambda n, sr, w=workers: w)
        path = tmp_path / f"{workers}.wav"
        write_wav(master(synthesize(long_score, workers=workers)), path)
        written.append(sf.read(str(path), dtype="int16")[0])
    assert written[0].shape == written[1].shape
    assert np.array_equal(written[0], written[1])


def test_master_parts_do_not_depend_on_the_workers(long_score):
    from cuescore.media.track import ArrayTrack
    from cuescore.render.master import _room

    def chain(x, workers):
        return np.concatenate([b for _, b in _room(ArrayTrack(x, SR), 0.25, workers)], axis=1)

    x = synthesize(long_score, workers=1).samples[:, : 45 * SR] * np.float32(4.0)
    one = chain(x, workers=1)
    for workers in (2, 3):
        assert np.array_equal(one, chain(x, workers=workers))


def test_render_falls_back_in_process_when_sigchld_is_ignored(long_score, monkeypatch):
    import os
    import signal

    from cuescore.render import parallel

    forks = []
    real_fork = os.fork

    def fork():
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(parallel.os, "fork", fork)
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        ignored = synthesize(long_score, workers=2).samples
    finally:
        signal.signal(signal.SIGCHLD, previous)
    assert forks == []
    assert np.array_equal(ignored, synthesize(long_score, workers=1).samples)


def test_wait_for_a_child_reaped_elsewhere_falls_back_in_process(long_score, monkeypatch):
    import os

    from cuescore.render import parallel

    def lost(pid, options):
        raise ChildProcessError(10, "No child processes")

    real_waitpid = os.waitpid
    calls = []

    def waitpid(pid, options):
        calls.append(pid)
        return lost(pid, options) if len(calls) == 1 else real_waitpid(pid, options)

    monkeypatch.setattr(parallel.os, "waitpid", waitpid)
    out = synthesize(long_score, workers=2).samples
    monkeypatch.setattr(parallel.os, "waitpid", real_waitpid)
    assert calls and np.array_equal(out, synthesize(long_score, workers=1).samples)


def test_short_renders_stay_in_process(score, monkeypatch):
    from cuescore.render import parallel

    monkeypatch.setattr(parallel, "_fork_render", lambda *a: pytest.fail("forked for a short render"))
    synthesize(score, workers=4)


def test_streamed_render_and_master_equal_the_in_memory_ones(long_score, tmp_path):
    import soundfile as sf

    from cuescore.media.audio import write_wav
    from cuescore.media.track import ArrayTrack, Spool
    from cuescore.render import master_track, synthesize_track

    track = synthesize_track(long_score, workers=1)
    whole = track.read(0, track.n)
    # any stretch of the streamed render (half-rate parts upsampled as read) equals the whole's
    pieces = [track.read(a, min(track.n, a + 12345)) for a in range(0, track.n, 12345)]
    assert np.array_equal(np.concatenate(pieces, axis=1), whole)
    spool = Spool(2, SR)
    for a in range(0, track.n, 70001):
        spool.append(whole[:, a:a + 70001])
    streamed, in_memory = master_track(spool), master_track(ArrayTrack(whole, SR))
    assert streamed.n == in_memory.n == whole.shape[1]
    assert np.array_equal(streamed.read(0, streamed.n), in_memory.read(0, in_memory.n))
    write_wav(streamed, tmp_path / "streamed.wav")
    reference = np.clip(in_memory.read(0, in_memory.n).T, -1.0, 1.0)
    sf.write(str(tmp_path / "whole.wav"), reference, SR, subtype="PCM_16", format="WAV")
    assert (tmp_path / "streamed.wav").read_bytes() == (tmp_path / "whole.wav").read_bytes()


def test_busy_cores_trusts_the_threads_runnable_now_over_a_stale_load_average(tmp_path, monkeypatch):
    import os

    from cuescore.render import parallel

    loadavg = tmp_path / "loadavg"
    monkeypatch.setattr(parallel, "LOADAVG", str(loadavg))
    for average, runnable, busy in ((8.0, 1, 0.0), (8.0, 3, 2.0), (0.5, 3, 0.0), (2.5, 4, 1.5)):
        monkeypatch.setattr(os, "getloadavg", lambda a=average: (a, a, a))
        loadavg.write_text(f"{average:.2f} {average:.2f} {average:.2f} {runnable}/321 4242\n")
        assert parallel.busy_cores() == pytest.approx(busy), (average, runnable)
    loadavg.unlink()  # no such file: the load average alone
    assert parallel.busy_cores() == pytest.approx(1.5)
