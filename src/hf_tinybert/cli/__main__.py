"""`python -m hf_tinybert.cli <command> ...` (e.g. under `accelerate launch -m` or `torchrun -m`)."""

import sys

from . import main

sys.exit(main())
