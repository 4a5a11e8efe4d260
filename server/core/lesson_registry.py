"""Where lessons come from: the lessons engineer registers a provider; GET /api/lessons delegates here.

A provider is ``fn(kid | None) -> list[dict]`` (the kid lets it mark progress and locks).
"""

from __future__ import annotations

from typing import Any, Callable

LessonProvider = Callable[[Any], list[dict[str, Any]]]


class LessonRegistry:
    def __init__(self) -> None:
        self.providers: list[LessonProvider] = []

    def register(self, provider: LessonProvider) -> None:
        self.providers.append(provider)

    def lessons(self, kid: Any = None) -> list[dict[str, Any]]:
        return [lesson for provider in self.providers for lesson in provider(kid)]
