"""``python -m edgeq``: the same entry point as the ``edgeq`` console script."""

from edgeq.cli import main

main()
