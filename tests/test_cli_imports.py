"""Start-up stays fast: importing the CLI must not import the heavy libraries (an import-graph check, not a
timing test). Commands import the core inside their bodies; a top-level import of a service module would
pull these in for every call, `--help` included."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("dlib", "onnxruntime", "cv2", "av", "kiwipiepy", "alembic", "fastapi", "lxml")
# Not needed to parse arguments or print help either: only the commands that use them import them.
ALSO_LATE = ("numpy", "sqlalchemy", "jinja2", "fpdf", "PIL", "uvicorn")


def test_importing_the_cli_imports_no_heavy_library() -> None:
    code = (
        "import json, sys\n"
        "import ncii_shield.cli.main\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(proc.stdout))
    assert "typer" in loaded, "the check itself works"
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert not loaded & set(ALSO_LATE), sorted(loaded & set(ALSO_LATE))
