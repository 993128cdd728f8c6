"""The learned mouth-opening model: shipped weights, attribution, gain independence, fitting, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from thead.audio import mouth_model
from thead.audio.features import analyze_features
from thead.errors import WeightsError
from thead.io.audio import read_audio

JFK = Path(__file__).resolve().parents[2] / "shared" / "media" / "speech" / "jfk.flac"


@pytest.fixture(scope="module")
def jfk_features():
    if not JFK.exists():
        pytest.skip("shared media not available")
    audio = read_audio(JFK, 16000)[: 16000 * 4]
    return audio, analyze_features(audio), np.arange(100) / 25.0


def test_shipped_weights_are_safetensors_with_the_corpus_attribution(tmp_path):
    header = mouth_model.DATA.read_bytes()[:8]
    assert int.from_bytes(header, "little") < 10_000  # a safetensors header length, not a pickle
    notice = (mouth_model.DATA.parent / "NOTICE").read_text()
    for words in ("GRID audiovisual corpus", "Cooke, Barker, Cunningham and Shao, 2006", "CC BY 4.0"):
        assert words in notice
    model = mouth_model.load()
    assert model.weights.shape == model.mean.shape == (len(mouth_model.CONTEXT) * mouth_model.PER_STEP,)
    (tmp_path / "broken.safetensors").write_bytes(b"\x05" + bytes(7) + b"hello")
    for path in (tmp_path / "missing.safetensors", tmp_path / "broken.safetensors"):
        with pytest.raises(WeightsError, match="cannot be read") as raised:  # exit 4, not a traceback
            mouth_model.load(path)
        assert raised.value.exit_code == 4 and "reinstall thead" in raised.value.hint


def test_a_quieter_recording_gives_the_same_mouth(jfk_features):
    audio, features, times = jfk_features
    model = mouth_model.load()
    loud = model.predict(features, times)
    quiet = model.predict(analyze_features(audio * 0.2), times)  # 14 dB quieter
    assert np.ptp(loud) > 0.5  # the mouth moves with this speech
    assert np.corrcoef(loud, quiet)[0, 1] > 0.98 and np.abs(loud - quiet).max() < 0.2, (np.corrcoef(loud, quiet)[0, 1], np.abs(loud - quiet).max())


def test_fit_learns_the_opening_from_the_sound_and_round_trips(jfk_features, tmp_path):
    """A target made from the sound's low bands is learned, and a saved model predicts the same."""
    _, features, times = jfk_features
    halves = [(features, times[:50]), (features, times[50:])]
    low_bands = features.mel[:, 2:8].mean(axis=1)
    opening = [np.interp(t, features.times, low_bands) - low_bands.min() for _, t in halves]
    model = mouth_model.fit([(f, t, o, np.ones(t.size)) for (f, t), o in zip(halves, opening)])
    assert np.corrcoef(model.predict(features, times), np.concatenate(opening))[0, 1] > 0.9
    mouth_model.save(model, tmp_path / "m.safetensors")
    again = mouth_model.load(tmp_path / "m.safetensors")
    np.testing.assert_allclose(again.predict(features, times), model.predict(features, times), atol=1e-5)
    with mouth_model.using(again):
        assert mouth_model.current() is again
    assert mouth_model.current() is not again  # the shipped model is back after the block
