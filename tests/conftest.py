"""Shared fixtures: the demo clip rendered once per session, and the real media folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_runner import cli
from cuescore.media import render_demo_clip
from cuescore.music.arrange import arrange
from plan_fixtures import make_plan

SHARED_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
DEMO_ANALYSES = [0]
"""How many times this session analysed the demo clip for `features_dir` (must stay 1)."""


@pytest.fixture(scope="session")
def demo_clip(tmp_path_factory):
    """The 12 s demo clip (640x360, 30 fps, h264, cuts at known frames), with a tone track."""
    return render_demo_clip(tmp_path_factory.mktemp("demo") / "demo.mp4", with_audio=True)


@pytest.fixture(scope="session")
def features_dir(demo_clip, tmp_path_factory) -> Path:
    """`cuescore analyze` of the demo clip, run once per session: every test that needs the demo
    clip's analysis reads this folder (`VideoFeatures.load`) instead of analysing again."""
    DEMO_ANALYSES[0] += 1
    out = tmp_path_factory.mktemp("demo_features") / "features"
    code, _, err = cli("analyze", demo_clip.path, "-o", out)
    assert code == 0, err
    yield out
    assert DEMO_ANALYSES[0] == 1, f"the demo clip was analysed {DEMO_ANALYSES[0]} times in one session"


@pytest.fixture(scope="session")
def web_server(tmp_path_factory):
    """One `cuescore serve` subprocess for the web and browser tests (see web_fixtures.SERVER_ARGS),
    stopped at the end of the session."""
    from web_fixtures import SERVER_ARGS, start_server

    server = start_server(tmp_path_factory.mktemp("serve"), *SERVER_ARGS)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shared_media() -> Path:
    """../shared/media beside the repository; tests that need it skip when it is absent."""
    if not (SHARED_MEDIA / "video").is_dir():
        pytest.skip("../shared/media is not present")
    return SHARED_MEDIA


@pytest.fixture(scope="session")
def plan():
    """The hand-made 20 s plan of `plan_fixtures.make_plan`."""
    return make_plan()


@pytest.fixture(scope="session")
def score(plan):
    """That plan arranged with seed 0."""
    return arrange(plan, seed=0)
