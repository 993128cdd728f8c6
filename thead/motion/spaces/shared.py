"""The channels every motion space carries."""

from __future__ import annotations

from thead.motion.spaces.schema import Channel

DEGREES = (-360.0, 360.0)
PIXELS = (-1e5, 1e5)
RATIO = (-100.0, 100.0)

COMMON = (
    Channel("yaw", (), DEGREES, "degrees", "head yaw; > 0 turns towards the image's left", common=True),
    Channel("pitch", (), DEGREES, "degrees", "head pitch; > 0 looks up", common=True),
    Channel("roll", (), DEGREES, "degrees", "head roll; > 0 tilts clockwise on screen", common=True),
    Channel("translation", (3,), PIXELS, "pixels",
            "head centre x, y in the analysed frame; z in MediaPipe's depth pixels", common=True),
    Channel("scale", (), (1e-3, 1e5), "pixels", "head size: distance between the outer eye corners", common=True),
    Channel("eye_open", (2,), RATIO, "ratio", "left, right eye: lid gap over eye width (about 0.3 open, < 0.1 closed)",
            common=True),
    Channel("gaze", (2,), RATIO, "half eye widths", "iris offset x (> 0 image right), y (> 0 down)", common=True),
    Channel("mouth_open", (), RATIO, "ratio", "inner-lip gap over mouth width (0 closed, 0.5-0.8 wide open)",
            common=True),
    Channel("valid", (), (0.0, 1.0), "flag", "1 where a face was measured, 0 where the frame was filled", common=True),
)
COMMON_CHANNELS = tuple(channel.name for channel in COMMON)


def rest_common() -> dict[str, object]:
    """Shared channels of a frontal, still face: eyes open, gaze ahead, mouth closed (cast by ``rest_frame``)."""
    return {"yaw": 0.0, "pitch": 0.0, "roll": 0.0, "translation": [0.0, 0.0, 0.0], "scale": 1.0,
            "eye_open": [0.3, 0.3], "gaze": [0.0, 0.0], "mouth_open": 0.0, "valid": 1.0}
