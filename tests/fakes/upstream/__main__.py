"""``python -m tests.fakes.upstream``: see ``tests.fakes.upstream.cli``."""

import sys

from tests.fakes.upstream.cli import main

main(sys.argv[1:])
