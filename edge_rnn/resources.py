"""Where the package data is: firmware templates and target profiles.

They live at the top of the repository (`firmware_templates/`, `targets/`); `edge_rnn/_data/`
links to them, and a wheel or `pip install .` copies them there (pyproject package-data), so
the same path works from a checkout, an editable install and an installed wheel.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

DATA_DIR = Path(str(files("edge_rnn") / "_data"))
FIRMWARE_DIR = DATA_DIR / "firmware_templates"  # Jinja templates and C/C++ sources
TARGETS_DIR = DATA_DIR / "targets"  # target profiles, one TOML file each
