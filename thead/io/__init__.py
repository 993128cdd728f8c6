"""Media input and output on imageio-ffmpeg's bundled ffmpeg."""
