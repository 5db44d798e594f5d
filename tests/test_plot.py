"""`cuescore plot`: the timeline PNG of a result, its panels, and one-line errors for bad input."""

from __future__ import annotations

import json
import math

import pytest

from cli_runner import cli
from cuescore.evaluation.timeline_plot import PANELS, load_result, loudness_per_second, result_wav, timeline_figure
from video_factory import make_video


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    """OUT.json of `cuescore generate` on a 2 s clip."""
    folder = tmp_path_factory.mktemp("plot")
    video = make_video(folder / "clip.mp4", n_frames=50, fps=25)
    code, _, err = cli("generate", video, "-o", folder / "out.mp4")
    assert code == 0, err
    return folder / "out.json"


def test_out_json_has_valence_beside_arousal(result):
    data = json.loads(result.read_text())
    assert len(data["valence"]) == len(data["arousal"]) == math.ceil(data["duration"]) == 2
    assert all(-1 <= v <= 1 for v in data["valence"])


def test_plot_writes_a_png_with_the_video_panels_above_the_music(result, tmp_path):
    out = tmp_path / "timeline.png"
    code, printed, err = cli("plot", result, "-o", out)
    assert code == 0, err
    assert printed.strip() == str(out) and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = load_result(result)
    fig = timeline_figure(data, result_wav(data, result))
    assert [ax.get_ylabel().replace("\n", " / ") for ax in fig.axes] == list(PANELS)
    tops = [ax.get_position().y0 for ax in fig.axes]
    assert tops == sorted(tops, reverse=True)  # one column, emotion at the top, loudness at the bottom
    shared = fig.axes[0].get_shared_x_axes()
    assert all(shared.joined(fig.axes[0], ax) for ax in fig.axes)  # one time axis
    assert fig.axes[0].get_xlim() == (0, data["duration"])
    loudness = fig.axes[-1].lines[0].get_ydata()
    assert len(loudness) == 3 and -40 < loudness[0] < 0  # 2 seconds drawn as steps, at the mastered level


def test_loudness_is_read_per_second(result):
    levels = loudness_per_second(result.with_suffix(".wav"))
    assert levels.shape == (2,) and (levels > -40).all()


@pytest.mark.parametrize("content, message", [("not json at all", "is not JSON"),
                                              ('{"tempo_map": []}', "is not a cuescore result (no 'duration')"),
                                              ("[1, 2]", "is not a cuescore result")])
def test_bad_input_is_exit_2_with_one_line(tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, _, err = cli("plot", bad, "-o", tmp_path / "x.png")
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


def test_missing_result_and_non_png_output_are_exit_2(result, tmp_path):
    code, _, err = cli("plot", tmp_path / "absent.json")
    assert code == 2 and "no such file" in err
    code, _, err = cli("plot", result, "-o", tmp_path / "timeline.jpg")
    assert code == 2 and "name the output .png" in err


def test_a_result_without_a_score_keeps_every_panel(result):
    """An engine that writes audio itself records no plan: the music rows say so, the video rows stay."""
    data = load_result(result)
    audio_only = {key: data[key] for key in ("duration", "emotion", "motion", "valence", "arousal", "cuts")}
    fig = timeline_figure(audio_only, result.with_suffix(".wav"))
    assert len(fig.axes) == len(PANELS)
    assert fig.axes[0].collections and fig.axes[2].lines  # emotion and motion drawn
    assert "no score" in fig.axes[3].texts[0].get_text() and fig.axes[-1].lines  # loudness from the WAV


def test_hit_points_and_intensity_keyframes_are_drawn(tmp_path):
    """`--hits` become solid lines through every panel (marked on top); the keyframed intensity
    curve is drawn in the energy panel beside the per-bar energy that followed it."""
    video = make_video(tmp_path / "clip.mp4", n_frames=50, fps=25)
    code, _, err = cli("generate", video, "-o", tmp_path / "out.mp4", "--hits", "1.0", "--intensity", "0:0.1,2:0.9")
    assert code == 0, err
    data = load_result(tmp_path / "out.json")
    fig = timeline_figure(data)
    for ax in fig.axes:
        assert any(list(line.get_xdata()) == [1.0, 1.0] and line.get_linestyle() == "-" for line in ax.lines)
    assert [list(line.get_xdata()) for line in fig.axes[0].lines if line.get_marker() == "v"] == [[1.0]]
    energy = fig.axes[PANELS.index("energy / per bar")]
    curve = [line for line in energy.lines if line.get_label() == "intensity keyframes"]
    assert len(curve) == 1 and list(curve[0].get_ydata()) == [*data["intensity"], data["intensity"][-1]]
    assert data["intensity"][0] < data["intensity"][-1]  # the keyframes rise
    assert "hit points" in fig.axes[-1].get_xlabel()
