"""Filesystem helpers: atomic output directories, hashing, stable JSON."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from edge_rnn.errors import EdgeRnnError


@contextlib.contextmanager
def atomic_output_dir(out: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that becomes `out` only if the block succeeds.

    The temporary directory sits beside `out` (same filesystem, so the final rename is
    atomic); on any exception it is removed and `out` is left untouched.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise EdgeRnnError(
            f"output directory '{out}' already exists: choose another --out or remove it first"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield tmp
    except EdgeRnnError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise err.with_paths({str(tmp): str(out)}) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def shown_as(log: Callable[[str], None], internal: Path, user: Path) -> Callable[[str], None]:
    """`log` that names `user` where a line mentions the temporary `internal` directory."""
    return lambda line: log(line.replace(str(internal), str(user)))


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON with sorted keys and a trailing newline, so equal data gives equal bytes."""
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_json(path: str | Path, what: str) -> Any:
    path = Path(path)
    if not path.is_file():
        raise EdgeRnnError(f"{what} '{path}' not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise EdgeRnnError(f"{what} '{path}' is not valid JSON: {err}") from None
