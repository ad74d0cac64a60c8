"""A plain name -> factory registry, one per stage (the rembg way).

Backends register a zero-argument-or-kwargs factory under a name; `create`
builds one and `names` lists what is valid. Unknown names raise with the list
so a typo in a config file is a one-line fix.
"""
from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


class UnknownBackend(ValueError):
    pass


class Registry(Generic[T]):
    def __init__(self, stage: str):
        self.stage = stage
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            self._factories[name] = factory
            return factory

        return deco

    def names(self) -> list[str]:
        return sorted(self._factories)

    def check(self, name: str) -> str:
        if name not in self._factories:
            raise UnknownBackend(
                f"unknown {self.stage} backend {name!r}; valid: {', '.join(self.names())}"
            )
        return name

    def create(self, name: str, **kwargs: Any) -> T:
        return self._factories[self.check(name)](**kwargs)

    def __contains__(self, name: str) -> bool:
        return name in self._factories
