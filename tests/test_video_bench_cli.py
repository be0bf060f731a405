"""`tfstyle video-bench` on a clip whose frames are all cuts (to join
tests/test_video.py with the cli/video.py change)."""

import pytest

from conftest import cli
from test_video import make_clip, pan


# End to end: the fast lane keeps
# test_video.py::test_video_bench_reports_a_missing_temporal_error_as_na.
@pytest.mark.slow
def test_tfstyle_video_bench_survives_a_clip_without_a_frame_pair(tmp_path, capsys):
    source, style = make_clip(tmp_path, pan(1, 32, 40, seed=1) + pan(1, 32, 40, seed=2))
    assert cli("video-bench", source, style, "--iterations", 1, "--max-size", 32,
               "--weights", "random") == 0
    captured = capsys.readouterr()
    assert "internal error" not in captured.err
    assert "temporal error n/a (no frame pair without a cut)" in captured.out
