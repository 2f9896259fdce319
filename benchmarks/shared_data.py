"""Where the benchmark data shared beside a project checkout lives (`<repo root>/../shared/data`)."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that overrides the location of the shared benchmark data.
DATA_DIR_ENV_VAR = "HF_TINYBERT_DATA_DIR"


def shared_data_dir(must_exist: bool = True) -> Path:
    """Return the folder with the shared benchmark data (GLUE SST-2/RTE, SQuAD dev, WikiText-2).

    The folder is `$HF_TINYBERT_DATA_DIR` when that variable is set, else `../shared/data` beside the
    root of the project checkout. The benchmarks and the tests use it; the library never assumes it.

    Args:
        must_exist: raise `FileNotFoundError` when the folder does not exist.

    Returns:
        The folder's path.

    Raises:
        FileNotFoundError: `must_exist` is set and the folder is missing.
    """
    override = os.environ.get(DATA_DIR_ENV_VAR)
    # benchmarks/shared_data.py -> parents[1] is the repository root.
    folder = Path(override) if override else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if must_exist and not folder.is_dir():
        raise FileNotFoundError(
            f"shared data folder {str(folder)!r} does not exist; set {DATA_DIR_ENV_VAR} to the folder that holds "
            "glue/, squad/ and wikitext-2/"
        )
    return folder
