"""JoyVASA's sizes: the motion generator's constructor arguments and its HuBERT's configuration.

The released checkpoint (``jdh-algo/JoyVASA``, ``motion_generator_hubert_chinese.pt``) is read by
its shapes (:func:`config_from_state_dict`): window length, previous frames, widths, diffusion
steps and the audio encoder's layout all follow from the tensors, so no pickled ``args`` are needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from thead.errors import UsageError, WeightsError

SAMPLE_RATE = 16_000
FPS = 25
AUDIO_UNIT = SAMPLE_RATE // FPS  # 640 samples per motion frame
POSITIONAL_ENCODINGS = ("legacy", "fixed")


@dataclass(frozen=True)
class JoyVASAConfig:
    """The conditional diffusion transformer and its audio encoder.

    ``pe`` picks the positional encoding: ``"legacy"`` adds the single row pe[T] to every token (the
    code the released weights were trained with), ``"fixed"`` adds rows 0..T-1 (upstream's Dec 2025 fix).
    """

    motion_feat_dim: int = 73
    n_motions: int = 100
    n_prev_motions: int = 10
    feature_dim: int = 256
    n_diff_steps: int = 50
    n_heads: int = 8
    n_layers: int = 8
    mlp_ratio: int = 4
    step_table_rows: int = 501
    position_table_rows: int = 600
    pe: str = "legacy"
    # HubertConfig overrides; none: transformers' defaults, which are chinese-hubert-base's layout
    hubert: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pe not in POSITIONAL_ENCODINGS:
            raise UsageError(f"unknown positional encoding '{self.pe}'", f"choose one of: {', '.join(POSITIONAL_ENCODINGS)}")

    @property
    def window_samples(self) -> int:
        """Audio samples of one sampler window (n_motions frames)."""
        return self.n_motions * AUDIO_UNIT

    def hubert_config(self):
        """transformers' ``HubertConfig`` of the audio encoder (eval: no dropout, no masking at inference)."""
        from transformers import HubertConfig

        return HubertConfig(**self.hubert)


def small_test_config(pe: str = "legacy") -> JoyVASAConfig:
    """Toy widths with every layer of the official layout (tests and ``tiny`` backends)."""
    hubert = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
              "conv_dim": [32] * 7}
    return JoyVASAConfig(feature_dim=64, n_motions=25, n_prev_motions=10, pe=pe, hubert=hubert)


def config_from_state_dict(state: dict, pe: str = "legacy") -> JoyVASAConfig:
    """The configuration a ``DitTalkingHead`` state dict was built with, read from tensor shapes."""
    try:
        start_motion = state["start_motion_feat"].shape  # [1, n_prev, motion_dim]
        mask = state["denoising_net.alignment_mask"].shape
        feature_dim = state["audio_feature_map.weight"].shape[0]
        n_steps = state["diffusion_sched.betas"].shape[0] - 1
        hidden = state["audio_encoder.feature_projection.projection.weight"].shape[0]
        conv = state["audio_encoder.feature_extractor.conv_layers.0.conv.weight"].shape[0]
        intermediate = state["audio_encoder.encoder.layers.0.feed_forward.intermediate_dense.weight"].shape[0]
    except KeyError as missing:
        raise WeightsError(f"the JoyVASA checkpoint has no {missing.args[0]}",
                           "re-fetch it with `thead fetch-weights joyvasa`") from None
    layers = len({key.split(".")[3] for key in state if key.startswith("audio_encoder.encoder.layers.")})
    convs = len({key.split(".")[3] for key in state if key.startswith("audio_encoder.feature_extractor.conv_layers.")})
    hubert = {"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": max(1, hidden // 64),
              "intermediate_size": intermediate, "conv_dim": [conv] * convs}
    if convs != 7:
        raise WeightsError(f"the JoyVASA checkpoint's audio encoder has {convs} convolutions, not 7",
                           "use the released jdh-algo/JoyVASA checkpoint")
    return replace(JoyVASAConfig(pe=pe), motion_feat_dim=start_motion[2], n_prev_motions=start_motion[1],
                   n_motions=mask[0] - start_motion[1], feature_dim=feature_dim, n_diff_steps=n_steps, hubert=hubert)
