"""Colour levels through thead's video reader and writer: no drift, decoding by the BT.601 / BT.709 formulas.

ffmpeg's default YUV to RGB conversion truncates instead of rounding: thead read every video about
1.2 levels darker than its pixels, and each ``thead`` stage a video went through darkened it again.
"""

from __future__ import annotations

import subprocess

import numpy as np

from thead.io.probe import ffmpeg_exe
from thead.io.video import VideoWriter, read_frames

#: (Y, U, V) limited-range samples of flat test patches: greys, skin tones, saturated colours
PATCHES = [(16, 128, 128), (60, 120, 140), (100, 140, 110), (126, 100, 160), (180, 110, 150), (235, 128, 128),
           (81, 90, 240), (145, 54, 34)]
BLOCK = 32


def bt601_rgb(y: float, u: float, v: float) -> np.ndarray:
    """RGB (0..255, unrounded) of a limited-range BT.601 sample, by the standard's formulas."""
    kr, kb = 0.299, 0.114
    luma, cb, cr = (y - 16) / 219, (u - 128) / 224, (v - 128) / 224
    r, b = luma + 2 * (1 - kr) * cr, luma + 2 * (1 - kb) * cb
    g = (luma - kr * r - kb * b) / (1 - kr - kb)
    return np.clip(np.array([r, g, b]) * 255, 0, 255)


def test_the_reader_decodes_by_the_bt601_formulas(tmp_path):
    """Flat YUV patches, encoded losslessly and untagged (read as BT.601), decode to the formula's RGB."""
    width = BLOCK * len(PATCHES)
    y = np.zeros((BLOCK, width), np.uint8)
    u = np.zeros((BLOCK // 2, width // 2), np.uint8)
    v = np.zeros_like(u)
    for k, (py, pu, pv) in enumerate(PATCHES):
        y[:, k * BLOCK : (k + 1) * BLOCK] = py
        u[:, k * BLOCK // 2 : (k + 1) * BLOCK // 2] = pu
        v[:, k * BLOCK // 2 : (k + 1) * BLOCK // 2] = pv
    raw = (y.tobytes() + u.tobytes() + v.tobytes()) * 3
    path = tmp_path / "patches.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{BLOCK}",
                    "-framerate", "25", "-i", "pipe:0", "-c:v", "libx264", "-qp", "0", str(path)], input=raw, check=True)
    frame = read_frames(path)[1].astype(np.float64)
    for k, patch in enumerate(PATCHES):
        inner = frame[8:-8, k * BLOCK + 8 : (k + 1) * BLOCK - 8].reshape(-1, 3)  # away from the chroma edges
        np.testing.assert_allclose(inner.mean(axis=0), bt601_rgb(*patch), atol=0.6, err_msg=f"YUV {patch}")


def test_a_written_video_reads_back_at_its_own_levels(tmp_path, astronaut):
    """Write then read: no darkening (the mean of each channel within 0.3 of the picture's)."""
    path = tmp_path / "astronaut.mp4"
    with VideoWriter(path, 25.0, crf=0) as writer:
        for _ in range(3):
            writer.write(astronaut)
    frame = read_frames(path)[1].astype(np.float64)
    bias = (frame - astronaut).mean(axis=(0, 1))
    assert np.all(np.abs(bias) < 0.3), bias
    assert np.abs(frame - astronaut).mean() < 1.5  # only the 4:2:0 chroma is lost


def test_chained_stages_do_not_drift(tmp_path, astronaut):
    """A video read and written again three times (three ``thead`` stages) keeps its levels: within one level
    (x264's chroma coding adds about +0.3 of blue a pass; truncated decoding took 3-4 levels off every channel)."""
    frames = [astronaut] * 3
    for stage in range(3):
        path = tmp_path / f"stage{stage}.mp4"
        with VideoWriter(path, 25.0) as writer:
            for frame in frames:
                writer.write(frame)
        frames = read_frames(path)
    bias = (frames[1].astype(np.float64) - astronaut).mean(axis=(0, 1))
    assert np.all(np.abs(bias) < 1.0), bias
