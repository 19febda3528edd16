"""``Secret``: a secret string that never prints (protected parameters, passwords, tokens)."""

from __future__ import annotations


class Secret:
    """A secret string: ``str()``/``repr()`` show ``***``; ``reveal()`` is the only way in."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
