"""``python -m cinemagraph3d``: the same command as ``cinemagraph3d``."""

import sys

from .cli import main

sys.exit(main())
