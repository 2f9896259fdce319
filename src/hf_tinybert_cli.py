"""The `hf-tinybert` console script.

It lives outside the `hf_tinybert` package because importing the package registers the TinyBERT classes with
transformers, which imports torch (seconds). `hf-tinybert`, `--help` and `--version` are answered by
`hf_tinybert/cli/__init__.py` run on its own (it imports only the standard library); every command imports the
package as usual.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def main() -> int:
    argv = sys.argv[1:]
    if not argv or argv[0] in ("-h", "--help", "-V", "--version"):
        package = importlib.util.find_spec("hf_tinybert")  # finds the package without importing it
        path = Path(package.submodule_search_locations[0]) / "cli" / "__init__.py"
        spec = importlib.util.spec_from_file_location("hf_tinybert_cli_usage", path)
        usage = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(usage)
        return usage.main(argv)
    from hf_tinybert.cli import main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
