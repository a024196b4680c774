"""``python -m spikegate`` (and ``torchrun -m spikegate``) runs the command-line interface."""

import sys

from spikegate.cli import main

if __name__ == "__main__":
    sys.exit(main())
