"""Plug-in registries: every module of a package registers its classes by name when imported
(backends in `edge_rnn.backends`, runners in `edge_rnn.runtimes`)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import ClassVar, Generic, Protocol, TypeVar


class Plugin(Protocol):
    name: ClassVar[str]
    order: ClassVar[int]


PluginT = TypeVar("PluginT", bound=type[Plugin])


class Registry(Generic[PluginT]):
    """Classes of one kind by unique name, listed in (order, name) order."""

    def __init__(self, package: str, kind: str) -> None:
        self.package, self.kind = package, kind
        self.classes: dict[str, PluginT] = {}

    def register(self, cls: PluginT) -> PluginT:
        """Class decorator; a second, different class of the same name is a programming error."""
        if self.classes.get(cls.name, cls) is not cls:
            raise RuntimeError(f"two {self.kind}s named '{cls.name}'")
        self.classes[cls.name] = cls
        return cls

    def load(self) -> dict[str, PluginT]:
        """Import every module of the package once (modules named `_*` are helpers, not
        plug-ins); return the registered classes in order."""
        package = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")
        return dict(sorted(self.classes.items(), key=lambda kv: (kv[1].order, kv[0])))
