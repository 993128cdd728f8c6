"""Safe loading: pickled code never runs, safetensors load, strict state dicts name the keys."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from thead.errors import WeightsError
from thead.weights import load_checkpoint, load_strict


class Payload:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_pickle_payload_does_not_execute(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    state = {"weight": torch.zeros(2), "evil": Payload(str(marker))}
    if writer == "torch.save":
        torch.save(state, path)
    else:
        with open(path, "wb") as handle:
            pickle.dump(state, handle, protocol=2)
    with pytest.raises(WeightsError, match="cannot load .*evil.pth safely") as err:
        load_checkpoint(path)
    assert err.value.exit_code == 4 and "only running code from the file would read" in err.value.message
    assert "weights_only" not in err.value.one_line() and "safetensors weight set" in err.value.hint
    assert not marker.exists()
    if writer == "torch.save":  # control: an unsafe load does run the payload
        torch.load(path, weights_only=False)
    else:
        with open(path, "rb") as handle:
            pickle.load(handle)
    assert marker.exists()


def test_plain_state_dict_loads(tmp_path):
    path = tmp_path / "ok.pth"
    torch.save({"weight": torch.arange(4.0)}, path)
    assert torch.equal(load_checkpoint(path)["weight"], torch.arange(4.0))


def test_safetensors_loads(tmp_path):
    path = tmp_path / "ok.safetensors"
    save_file({"weight": torch.ones(3, 2)}, str(path))
    assert load_checkpoint(path)["weight"].shape == (3, 2)


def test_strict_loading_names_missing_and_unexpected_keys():
    module = torch.nn.Linear(3, 2)
    with pytest.raises(WeightsError, match=r"missing: bias; unexpected: extra") as err:
        load_strict(module, {"weight": torch.zeros(2, 3), "extra": torch.zeros(1)}, "model.pth")
    assert "model.pth" in err.value.message
    with pytest.raises(WeightsError, match=r"shape mismatch: weight \(3, 3\) vs \(2, 3\)"):
        load_strict(module, {"weight": torch.zeros(3, 3), "bias": torch.zeros(2)}, "model.pth")
    load_strict(module, {"weight": torch.ones(2, 3), "bias": torch.zeros(2)}, "model.pth")
    assert torch.equal(module.weight, torch.ones(2, 3))
