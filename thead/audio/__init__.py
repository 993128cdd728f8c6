"""Speech analysis for audio driving: phones, voice activity, prosody, and the articulation they imply."""
