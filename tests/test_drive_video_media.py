"""End to end on real clips: what a user checks by eye, measured."""

from __future__ import annotations

import numpy as np
import pytest

from thead.face import FaceTracker, geometry
from thead.io.image import read_image
from thead.io.video import open_video
from thead.pipelines.drive_video import drive_video

pytestmark = pytest.mark.media


def _series(path) -> dict[str, np.ndarray]:
    """Per-frame mouth openness and yaw measured on a video (NaN where no face)."""
    mouth, yaw = [], []
    with FaceTracker() as tracker:
        for frame in open_video(path):
            face = tracker.track(frame)
            mouth.append(np.nan if face is None else geometry.mouth_openness(face.points))
            yaw.append(np.nan if face is None else geometry.estimate_head_pose(face.points).yaw)
    return {"mouth": np.array(mouth), "yaw": np.array(yaw)}


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    keep = ~(np.isnan(a) | np.isnan(b))
    return float(np.corrcoef(a[keep], b[keep])[0, 1])


@pytest.mark.parametrize(
    "portrait, clip, checks",
    [
        ("portraits/lp_s1.jpg", "talking/grid_bbaf2n.mpg", ("mouth",)),
        ("portraits/st_happy.png", "driving/lp_d12.mp4", ("mouth", "yaw")),
        ("portraits/lp_s0.jpg", "driving/lp_d0.mp4", ()),  # a painting; a driving clip without audio
    ],
)
def test_output_follows_driving(shared, tmp_path, portrait, clip, checks):
    source, driving = shared / "media" / portrait, shared / "media" / clip
    out = tmp_path / "out.mp4"
    result = drive_video(source, driving, out, device="cpu")
    reader, driven = open_video(out), open_video(driving)
    assert reader.frame_count == driven.frame_count == result.frames
    assert reader.fps == pytest.approx(driven.fps, rel=1e-3)
    assert reader.has_audio == driven.has_audio
    image = read_image(source)
    assert reader.size == (image.shape[1] + image.shape[1] % 2, image.shape[0] + image.shape[0] % 2)

    got, want = _series(out), _series(driving)
    assert np.isnan(got["mouth"]).mean() < 0.05  # the rendered face stays a face
    for channel in checks:
        assert _corr(got[channel], want[channel]) > 0.6, channel


def test_background_stays_put(shared, tmp_path):
    source = shared / "media" / "portraits" / "lp_s6.jpg"
    out = tmp_path / "out.mp4"
    drive_video(source, shared / "media" / "driving" / "lp_d12.mp4", out, device="cpu", max_frames=30)
    image = read_image(source).astype(np.float32)
    face = FaceTracker().track(read_image(source))
    x0, y0, x1, y1 = face.box
    margin = 1.6 * max(x1 - x0, y1 - y0)
    height, width = image.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width]
    far = (np.abs(xx - (x0 + x1) / 2) > margin) | (np.abs(yy - (y0 + y1) / 2) > margin)
    assert far.mean() > 0.1
    for frame in open_video(out):
        diff = np.abs(frame[:height, :width].astype(np.float32) - image).mean(axis=2)
        assert float(diff[far].mean()) < 4.0
