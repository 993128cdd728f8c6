"""Command-line interface: one module per subcommand, wired in :mod:`thead.cli.app`.

:func:`main` is the console script. It makes stop signals catchable before anything heavy is
imported, so that an interruption at any moment ends with exit 130/143 and one ``error:`` line.
"""

from __future__ import annotations

import signal
import sys

from thead.signals import STOP_SIGNALS


class Interrupted(BaseException):
    """Raised in the main thread when a stop signal arrives, so that every ``finally`` cleans up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.exit_code = 128 + signum


def raise_interrupted(signum: int, frame) -> None:
    """Signal handler: turn SIGINT/SIGTERM/SIGHUP into :class:`Interrupted`."""
    raise Interrupted(signum)


def main() -> None:
    """Console-script entry point: exit with the code of the contract (see :mod:`thead.cli.app`)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, raise_interrupted)
    try:
        from thead.cli.app import run
    except Interrupted as stop:
        sys.stderr.write("error: interrupted\n")
        sys.exit(stop.exit_code)
    sys.exit(run())
