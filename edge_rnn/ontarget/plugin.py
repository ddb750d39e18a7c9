"""Build the instruction-count TCG plugin (firmware_templates/qemu_plugin/icount.c) once.

The shared object is cached by the hash of its source, beside the user's other caches.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from edge_rnn.ontarget.toolchain import FIRMWARE_DIR, run_tool

PLUGIN_SOURCE = FIRMWARE_DIR / "qemu_plugin" / "icount.c"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edge-rnn"


def build_plugin(compiler: str = "gcc") -> Path:
    """Path of the built plugin; compiles it with the host compiler when not cached."""
    digest = hashlib.sha256(PLUGIN_SOURCE.read_bytes()).hexdigest()[:16]
    cache = _cache_dir()
    plugin = cache / f"icount-{digest}.so"
    if plugin.is_file():
        return plugin
    cache.mkdir(parents=True, exist_ok=True)
    # Build under a temporary name, then rename: concurrent test workers never see half a file.
    handle, partial = tempfile.mkstemp(prefix=".icount-", suffix=".so", dir=cache)
    os.close(handle)
    try:
        command = [compiler, "-std=c99", "-O2", "-Wall", "-Wextra", "-shared", "-fPIC"]
        run_tool([*command, str(PLUGIN_SOURCE), "-o", partial], "building the QEMU icount plugin")
        os.replace(partial, plugin)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return plugin
