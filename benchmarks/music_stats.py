"""Musical statistics of a written score, measured from the files a user gets (issue 14).

- `midi_stats`: muspy's pitch-class entropy, scale consistency, polyphony, empty-beat rate and
  groove consistency of a MIDI file, drums excluded (muspy's own functions; `pip install muspy`),
  plus the share of seconds in which the lead part sounds.
- `tonic_dominant_share`: share of the plan's chords (equal neighbours merged) on the key's
  tonic or dominant root.
- `modal_emotion_share`: share of seconds whose emotion class is the clip's most common one.
- `cuts_on_heard_beats`: `cuescore evaluate`'s `audio_cut_on_beat` (librosa beats within 70 ms, onsets near the ends) of
  the written WAV (not read from the plan).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi

from cuescore.music.plan import MusicPlan

STAT_KEYS = ("pitch_class_entropy", "scale_consistency", "polyphony", "empty_beat_rate", "groove_consistency")


def midi_stats(path: Path) -> dict:
    """muspy statistics of the MIDI at `path` (drums excluded) and the lead's sounding share."""
    import muspy

    music = muspy.read_midi(str(path))
    music.tracks = [t for t in music.tracks if not t.is_drum]
    return {
        "pitch_class_entropy": muspy.pitch_class_entropy(music),
        "scale_consistency": muspy.scale_consistency(music),
        "polyphony": muspy.polyphony(music),
        "empty_beat_rate": muspy.empty_beat_rate(music),
        "groove_consistency": muspy.groove_consistency(music, 4 * music.resolution),
        "lead_share": lead_share(path),
    }


def lead_share(path: Path) -> float:
    """Share of whole seconds of the MIDI in which a track named "lead" has a note sounding."""
    midi = pretty_midi.PrettyMIDI(str(path))
    seconds = max(1, int(round(midi.get_end_time())))
    busy = np.zeros(seconds, bool)
    for inst in midi.instruments:
        if inst.name == "lead":
            for note in inst.notes:
                busy[int(note.start): min(seconds, int(np.ceil(note.end)))] = True
    return float(busy.mean())


def tonic_dominant_share(plan: MusicPlan) -> float:
    """Share of the plan's chords (N left out, equal neighbours merged) rooted on I or V."""
    labels = []
    for span in plan.chords:
        if not span.chord.is_none and (not labels or labels[-1] != span.label):
            labels.append(span.label)
    roots = [next(s.chord.root for s in plan.chords if s.label == lab) for lab in labels]
    tonic = plan.key.tonic
    return float(np.mean([(r - tonic) % 12 in (0, 7) for r in roots])) if roots else float("nan")


def modal_emotion_share(emotion: np.ndarray) -> float:
    """Share of seconds ([T, 6] probabilities) whose most likely class is the clip's commonest."""
    classes = np.argmax(np.asarray(emotion), axis=1)
    return float(np.bincount(classes).max() / len(classes))


def cuts_on_heard_beats(wav: Path, cuts: list[float]) -> float | None:
    """Share of `cuts` on a beat heard in the WAV: `cuescore evaluate`'s `audio_cut_on_beat` (librosa's
    beats within 70 ms; near either end, where the tracker lacks context, a note onset counts)."""
    from cuescore.evaluation.audio_sync import evaluate_audio

    return evaluate_audio(wav, cuts)["audio_cut_on_beat"]
