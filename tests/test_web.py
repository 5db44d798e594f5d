"""`cuescore serve` driven through gradio_client, against a real server on a free loopback port:
generation and downloads, rejected uploads with the CLI's message, regenerating a range, concurrent jobs, expiry of
session folders and their removal on shutdown. The tests share the session's server (conftest
`web_server`); the shutdown test starts and stops its own."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import pretty_midi
import pytest

gradio_client = pytest.importorskip("gradio_client", reason="pip install gradio_client (the 'test' extra)")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from cuescore.controls import CONTROLS, DEFAULTS  # noqa: E402
from cuescore.errors import OptionError  # noqa: E402
from cuescore.controls import Controls  # noqa: E402
from cuescore.web.jobs import ServerSettings, check_upload, generate_candidates  # noqa: E402
from cuescore.web.workspace import Workspace  # noqa: E402
from video_factory import make_video  # noqa: E402
from web_fixtures import KEEP_MINUTES, MAX_UPLOAD_MB, SERVER_ARGS, start_server  # noqa: E402


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("web_clips")
    not_video = folder / "notes.mp4"
    not_video.write_text("this is text, not a video\n")
    return {"short": make_video(folder / "short.mp4", n_frames=40, fps=20),
            "long": make_video(folder / "long.mp4", n_frames=80, fps=20),
            "text": not_video}


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                             ("0.0.0.0", False), ("192.168.1.5", False), ("example.org", False)])
def test_only_loopback_addresses_count_as_local(host, loopback):
    assert ServerSettings(host=host).loopback is loopback


def test_server_limits_are_checked():
    with pytest.raises(OptionError, match="--jobs 0 is out of range"):
        ServerSettings(jobs=0)


def test_workspace_keeps_running_jobs_and_sweeps_idle_sessions(tmp_path):
    workspace = Workspace(keep_seconds=0.0, root=tmp_path / "root")
    with workspace.job("a/../b") as folder:
        (folder / "out.mid").write_bytes(b"MThd")
        assert folder.parent == workspace.root / "sessions" / "a____b"  # the session id cannot leave the folder
        assert workspace.sweep() == []  # a running job is never swept
    assert workspace.sweep() == [folder.parent] and not folder.parent.exists()
    workspace.close()
    assert not workspace.root.exists()


def test_candidates_share_one_analysis_and_report_every_stage(clips, tmp_path):
    reports = []
    info = check_upload(clips["short"], ServerSettings(max_minutes=0.05))
    found = generate_candidates(clips["short"], tmp_path, Controls(seed=5), "affective", {}, 2, True, info,
                                lambda done, what: reports.append((done, what)))
    assert [c.seed for c in found] == [5, 6] and all(c.timeline.is_file() for c in found)
    assert {"json", "midi", "video", "wav"} < set(found[0].outputs)
    assert any(kind.startswith("stem:") for kind in found[0].outputs)  # each part's WAV, asked for
    for candidate in found:  # the video was analysed once, before the candidates: theirs took no time
        assert json.loads(candidate.outputs["json"].read_text())["timings"]["analysis"] < 0.05
    whats = [what for _, what in reports]
    for i, seed in ((1, 5), (2, 6)):
        stages = [w.rsplit(": ", 1)[1] for w in whats if w.startswith(f"candidate {i}/2 (seed {seed})")]
        assert stages == ["analysis", "composition", "synthesis", "mastering", "mux", "done"]
    shares = [done for done, _ in reports]
    assert shares == sorted(shares) and shares[0] == 0 and shares[-1] == 1


def _client(server, tmp_path: Path) -> Client:
    return Client(server.url, verbose=False, download_files=str(tmp_path))


def _generate(client: Client, video: Path, candidates: int = 1) -> tuple:
    return client.predict(handle_file(str(video)), candidates, "affective", api_name="/generate")


def _downloads(result: tuple) -> dict[str, Path]:
    return {Path(p).suffix: Path(p) for p in result[-1]}


def _audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return float(stream.duration * stream.time_base)


def test_page_offers_every_control_of_the_table(web_server, tmp_path):
    api = _client(web_server, tmp_path).view_api(return_format="dict")
    parameters = api["named_endpoints"]["/generate"]["parameters"]
    labels = [p["label"] for p in parameters]
    shown = [name.replace("_", " ") for name, spec in CONTROLS.items() if spec.kind != "path"]
    assert labels[:4] == ["video", "candidates", "engine", "stems"]
    assert labels[4:] == shown  # only "affective" is offered here, and it declares no options
    kinds = {p["label"]: p["component"] for p in parameters}
    for name, spec in CONTROLS.items():  # generated by kind: a text control of any new kind is a text box
        if spec.kind == "path":
            continue
        expected = (("Dropdown",) if spec.choices or spec.kind == "soundfont" else
                    ("Slider", "Number") if spec.kind in ("int", "float") and not spec.nullable else ("Textbox",))
        assert kinds[name.replace("_", " ")] in expected, name


def test_generate_gives_midi_and_a_video_with_music_of_its_length(web_server, clips, tmp_path):
    result = _generate(_client(web_server, tmp_path), clips["short"], candidates=2)
    status, files = result[0], _downloads(result)
    assert "seed 0" in status and "seed 1" in status
    assert len(result[-1]) == 10  # 2 candidates x (mp4, mid, wav, json, png)
    midi = pretty_midi.PrettyMIDI(str(files[".mid"]))
    assert sum(len(i.notes) for i in midi.instruments) > 0
    assert _audio_seconds(files[".mp4"]) == pytest.approx(2.0, abs=0.1)
    assert files[".png"].stat().st_size > 10_000
    assert any(web_server.root.glob("sessions/*/job*/short_scored_2.mid"))  # in the session's own folder


@pytest.mark.parametrize("clip, message", [("text", "notes.mp4: not a media file"),
                                           ("long", "lasts 0.07 min; this server takes videos up to 0.05 min")])
def test_bad_upload_is_one_line_and_the_server_keeps_serving(web_server, clips, tmp_path, clip, message):
    client = _client(web_server, tmp_path)
    with pytest.raises(AppError) as caught:
        _generate(client, clips[clip])
    text = str(caught.value)
    assert message in text and "\n" not in text and "Traceback" not in text
    assert str(web_server.root) not in text  # the server's paths are not shown
    assert ".mid" in _downloads(_generate(client, clips["short"]))


def test_uploads_over_the_size_cap_are_refused(web_server, tmp_path):
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * int(MAX_UPLOAD_MB * 1024 * 1024 + 1024))
    with pytest.raises(ValueError, match="exceeds the maximum file size"):
        _generate(_client(web_server, tmp_path), big)


def test_bad_option_shows_the_cli_message(web_server, clips, tmp_path):
    with pytest.raises(AppError, match="option key: 'H major' is not allowed; allowed: a key like 'A minor'"):
        _client(web_server, tmp_path).predict(handle_file(str(clips["short"])), 1, "affective", False,
                                          *_with(key="H major"), api_name="/generate")


def test_page_reads_no_file_named_in_a_text_control(web_server, clips, tmp_path):
    keyframes = tmp_path / "curve.csv"  # the command line reads keyframes from a CSV; the page must not
    keyframes.write_text("0,0.2\n1.5,0.9\n")
    with pytest.raises(AppError, match="intensity: give the values inline"):
        _client(web_server, tmp_path).predict(handle_file(str(clips["short"])), 1, "affective", False,
                                              *_with(intensity=str(keyframes)), api_name="/generate")


def _with(**changes) -> list:
    """Positional values of every shown control: the table's defaults, with `changes`."""
    shown = [n for n, s in CONTROLS.items() if s.kind != "path"]
    return [changes.get(n, "" if DEFAULTS[n] is None else DEFAULTS[n]) for n in shown]


def test_two_requests_at_once_both_finish(web_server, clips, tmp_path):
    clients = [_client(web_server, tmp_path / str(i)) for i in range(2)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda c: _generate(c, clips["short"]), clients))
    assert all(".mid" in _downloads(r) for r in results)


def _notes(midi: Path) -> dict[str, list[tuple]]:
    """Each track's notes as (start s, end s, pitch, velocity), rounded to the MIDI's tick."""
    tracks = pretty_midi.PrettyMIDI(str(midi)).instruments
    return {t.name: [(round(n.start, 3), round(n.end, 3), n.pitch, n.velocity) for n in t.notes] for t in tracks}


def test_regenerate_a_range_keeps_every_note_outside_it(web_server, clips, tmp_path):
    client = _client(web_server, tmp_path)  # a hit at 1 s puts a bar line there: bars 0-1 s and 1-2 s
    original = _downloads(client.predict(handle_file(str(clips["short"])), 1, "affective", False,
                                         *_with(hits="1.0"), api_name="/generate"))
    status, player, timeline, files = client.predict(1, 0.2, 0.9, "", api_name="/regenerate")
    new = {Path(p).suffix: Path(p) for p in files}
    record = json.loads(new[".json"].read_text())["regenerated"]
    a, b = record["start"], record["end"]
    assert (a, b) == (0.0, 1.0) and record["seed"] == 1
    assert "regenerated **0.00-1.00 s** (asked 0.2-0.9 s, widened to bar lines) with seed 1" in status
    assert Path(player).suffix == ".mp4" and Path(timeline).suffix == ".png"
    assert {".mp4", ".mid", ".wav", ".json", ".png"} <= set(new)
    before, after = _notes(original[".mid"]), _notes(new[".mid"])
    assert before.keys() == after.keys()
    kept = changed = 0
    for name, notes in before.items():
        outside = [n for n in notes if n[1] <= a + 1e-3 or n[0] >= b - 1e-3]
        assert all(n in after[name] for n in outside), name
        kept += len(outside)
        changed += [n for n in notes if a <= n[0] < b] != [n for n in after[name] if a <= n[0] < b]
    assert kept >= 3 and changed >= 1


@pytest.mark.parametrize("start, end, seed, message", [
    (1.5, 1.0, "", "--from 1.5 must be below --to 1"), (0.5, 9.0, "", "the range 0.5..9 s lies outside the video"),
    (0.2, 0.9, "two", "--seed 'two' is not a whole number")])
def test_bad_range_is_the_cli_message(web_server, clips, tmp_path, start, end, seed, message):
    client = _client(web_server, tmp_path)
    with pytest.raises(AppError, match="nothing to regenerate yet: press Generate first"):
        client.predict(1, start, end, seed, api_name="/regenerate")
    _generate(client, clips["short"])
    with pytest.raises(AppError) as caught:
        client.predict(1, start, end, seed, api_name="/regenerate")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_session_folders_are_removed_after_their_expiry(web_server):
    deadline = time.monotonic() + KEEP_MINUTES * 60 + 15
    while any((web_server.root / "sessions").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = [p.relative_to(web_server.root) for p in (web_server.root / "sessions").rglob("*")]
    assert not any((web_server.root / "sessions").iterdir()), left


def test_shutdown_removes_every_temporary_file(clips, tmp_path):
    server = start_server(tmp_path, *SERVER_ARGS)  # its own server: the shared one serves the other tests
    try:
        _generate(_client(server, tmp_path / "downloads"), clips["short"])
        assert any(server.root.iterdir())
    finally:
        server.stop()
    assert not server.root.exists()
