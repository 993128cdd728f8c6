"""Weight-free lip-sync check: mouth opening against audio energy, and the lag that fits best.

Per video frame, the mouth openness (inner-lip gap over mouth width) and the audio's log RMS
energy over that frame's span; the Pearson correlation between them is computed for lags within
+-0.4 s. The value is the best correlation, ``lag_ms`` its lag (positive: the mouth moves after
the sound) and ``corr_at_0`` the correlation without shift. Real speech video gives a clearly
positive correlation near lag 0; a mouth that ignores the audio gives about 0.
"""

from __future__ import annotations

import numpy as np

from thead.metrics.base import Metric, MetricResult, Sample
from thead.metrics.landmarks import sample_mesh

MAX_LAG_SECONDS = 0.4
MIN_FRAMES = 10


def frame_energy(audio: np.ndarray, sample_rate: int, fps: float, count: int) -> np.ndarray:
    """[count] log RMS (dB) of the audio over each video frame's time span (silence: -100 dB)."""
    edges = np.rint(np.arange(count + 1) * sample_rate / fps).astype(int)
    squares = np.concatenate([[0.0], np.cumsum(np.asarray(audio, np.float64) ** 2)])
    edges = np.minimum(edges, len(audio))
    lengths = np.maximum(edges[1:] - edges[:-1], 1)
    mean_square = (squares[edges[1:]] - squares[edges[:-1]]) / lengths
    return 10 * np.log10(np.maximum(mean_square, 1e-10))


def lagged_correlation(mouth: np.ndarray, energy: np.ndarray, max_lag: int) -> dict[int, float]:
    """Pearson r of mouth[t] with energy[t - lag] for each lag in [-max_lag, max_lag] (NaN-aware);
    lags as long as the clip are left out."""
    out = {}
    max_lag = min(max_lag, len(mouth) - 1)
    for lag in range(-max_lag, max_lag + 1):
        m = mouth[max(lag, 0):len(mouth) + min(lag, 0)]
        e = energy[max(-lag, 0):len(energy) - max(lag, 0)]
        valid = np.isfinite(m) & np.isfinite(e)
        if valid.sum() >= MIN_FRAMES and np.std(m[valid]) > 0 and np.std(e[valid]) > 0:
            out[lag] = float(np.corrcoef(m[valid], e[valid])[0, 1])
    return out


def mouth_series(points: np.ndarray, found: np.ndarray) -> np.ndarray:
    from thead.face.geometry import mouth_openness

    return np.array([mouth_openness(p) if ok else np.nan for p, ok in zip(points, found)])


class LipSync(Metric):
    name = "lipsync"
    label = "mouth-audio r"
    higher_is_better = True
    extra_higher_is_better = {"lag_ms": None, "corr_at_0": True}
    needs = frozenset({"audio"})
    protocol = {
        "measure": "Pearson r of mouth openness (inner-lip gap / width) vs log RMS audio energy per frame",
        "lag": f"best r within +-{MAX_LAG_SECONDS} s; lag_ms > 0: mouth after sound", "weights": "none",
        "landmarks": "embedded MediaPipe 478-point mesh (tracking mode)",
    }

    def compute(self, sample: Sample) -> MetricResult:
        mouth = mouth_series(*sample_mesh(sample))
        energy = frame_energy(sample.audio, sample.audio_rate, sample.fps, len(mouth))
        correlations = lagged_correlation(mouth, energy, int(round(MAX_LAG_SECONDS * sample.fps)))
        if not correlations:
            return MetricResult(float("nan"), notes=["too few frames with a face and varying audio"],
                                per_frame=np.stack([mouth, energy], axis=1))
        best = max(correlations, key=correlations.get)
        return MetricResult(correlations[best],
                            extras={"lag_ms": 1000.0 * best / sample.fps, "corr_at_0": correlations.get(0, float("nan"))},
                            per_frame=np.stack([mouth, energy], axis=1))
