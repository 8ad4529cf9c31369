"""A generic, typed registry of pluggable kinds (field types, node types, functions...) by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import Enum
from typing import Final, Generic, TypeVar, overload

T = TypeVar("T")


class _Missing(Enum):
    MISSING = "MISSING"


_MISSING: Final = _Missing.MISSING


class RegistryError(Exception):
    """Root of the errors a registry raises."""


class DuplicateNameError(RegistryError):
    """A second item was registered under a name that is already taken."""


class UnknownNameError(RegistryError, LookupError):
    """An item was required by a name that nothing is registered under."""


class Registry(Generic[T]):
    """Items of one kind, each under a unique name, kept in registration order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, item: T) -> T: ...

    def register(self, name: str, item: T | _Missing = _MISSING) -> T | Callable[[T], T]:
        """Add `item` under `name` and return it; with no item, return a decorator that does.

        A name that is already taken raises `DuplicateNameError`.
        """
        if isinstance(item, _Missing):
            return lambda decorated: self.register(name, decorated)
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")
        if name in self._items:
            raise DuplicateNameError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def get(self, name: str) -> T | None:
        return self._items.get(name)

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(self._items) or "none"
            raise UnknownNameError(f"unknown {self.kind} {name!r} (registered: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def names(self) -> list[str]:
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} items)"
