"""Registry[T]: registration, lookups, order, duplicates, the decorator form."""

from __future__ import annotations

import pytest

from engine.core.registry import DuplicateNameError, Registry, UnknownNameError


class Shape:
    sides = 0


def test_register_returns_the_item_and_lookups_find_it() -> None:
    registry: Registry[int] = Registry("number")
    assert registry.register("one", 1) == 1
    assert registry.get("one") == 1
    assert registry["one"] == 1
    assert "one" in registry
    assert len(registry) == 1


def test_get_and_contains_never_raise_for_unknown_names() -> None:
    registry: Registry[int] = Registry("number")
    assert registry.get("missing") is None
    assert "missing" not in registry
    assert 42 not in registry


def test_getitem_names_the_kind_and_the_known_names() -> None:
    registry: Registry[int] = Registry("number")
    registry.register("one", 1)
    with pytest.raises(UnknownNameError, match=r"unknown number 'two' \(registered: one\)"):
        registry["two"]
    with pytest.raises(LookupError):
        registry["two"]


def test_duplicate_name_is_rejected_and_keeps_the_first() -> None:
    registry: Registry[int] = Registry("number")
    registry.register("one", 1)
    with pytest.raises(DuplicateNameError, match="number 'one' is already registered"):
        registry.register("one", 2)
    assert registry["one"] == 1


@pytest.mark.parametrize("name", ["", None, 3])
def test_name_must_be_a_non_empty_string(name: object) -> None:
    registry: Registry[int] = Registry("number")
    with pytest.raises(ValueError, match="non-empty string"):
        registry.register(name, 1)  # type: ignore[call-overload]
    assert len(registry) == 0


def test_iteration_names_and_items_keep_registration_order() -> None:
    registry: Registry[str] = Registry("letter")
    for name in ["c", "a", "b"]:
        registry.register(name, name.upper())
    assert registry.names() == ["c", "a", "b"]
    assert list(registry) == ["C", "A", "B"]
    assert registry.items() == [("c", "C"), ("a", "A"), ("b", "B")]


def test_iterating_while_registering_is_safe() -> None:
    registry: Registry[int] = Registry("number")
    registry.register("one", 1)
    for item in registry:
        registry.register(f"copy{item}", item)
    assert registry.names() == ["one", "copy1"]


def test_decorator_form_registers_classes_unchanged() -> None:
    registry: Registry[type[Shape]] = Registry("shape")

    @registry.register("triangle")
    class Triangle(Shape):
        sides = 3

    assert registry["triangle"] is Triangle
    assert Triangle.sides == 3
    with pytest.raises(DuplicateNameError):

        @registry.register("triangle")
        class Other(Shape):
            pass


def test_decorator_form_registers_functions() -> None:
    registry: Registry[object] = Registry("function")

    @registry.register("double")
    def double(x: int) -> int:
        return 2 * x

    assert registry["double"] is double


def test_registries_are_independent() -> None:
    first: Registry[int] = Registry("number")
    second: Registry[int] = Registry("number")
    first.register("one", 1)
    assert "one" not in second
    assert repr(first) == "Registry('number', 1 items)"
