"""Errors a user can act on. The CLI prints them as one line and exits 2 (no traceback)."""

from __future__ import annotations


class WikiartError(Exception):
    """Bad usage or bad input: a missing folder, an unknown style, an unreadable checkpoint."""


class UnknownStyleError(WikiartError):
    """A style name that the class map (the model's classes) does not contain."""


class BadImageError(Exception):
    """One image could not be used. ``reason`` is a short machine-friendly kind."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
