"""The command line, `frontline …`: one module per command group over the headless core.

`main(argv, services)` is what the `frontline` script and the tests call.
"""

from simulator.cli.main import build_parser, main, run

__all__ = ["build_parser", "main", "run"]
