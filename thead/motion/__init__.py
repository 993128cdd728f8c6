"""Motion: extraction from faces, the motion track, retargeting and smoothing."""
