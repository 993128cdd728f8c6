"""Command-line interface: one module per subcommand, wired in :mod:`thead.cli.app`."""
