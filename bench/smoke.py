"""--smoke, which every benchmark has: tiny sizes and one short round through the same code
and the same checks as a real run, a few seconds long. The test suite runs each benchmark
this way (tests/test_benchmarks.py), so a change that breaks a benchmark fails there
instead of rotting unseen until the next measurement."""

from __future__ import annotations

import argparse


def parse_args(parser: argparse.ArgumentParser, smoke: dict[str, object]) -> argparse.Namespace:
    """The command line of a benchmark; with --smoke, the options named in `smoke` default to
    its values instead (an option given explicitly still wins)."""
    sizes = " ".join(f"--{name.replace('_', '-')} {value}" for name, value in smoke.items())
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"a few seconds to check that the benchmark still runs and passes its checks ({sizes}); the test suite runs it",
    )
    if parser.parse_known_args()[0].smoke:
        parser.set_defaults(**smoke)
    return parser.parse_args()
