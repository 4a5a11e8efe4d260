"""Placeholder: filled in by the next commits of the server core."""


def setup(app) -> None:
    return None
