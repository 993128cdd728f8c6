"""Python API behind the commands: each pipeline is one function a command wraps."""
