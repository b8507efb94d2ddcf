"""Errors a user can act on: their messages say what went wrong and what to do next."""

from __future__ import annotations

__all__ = ["DataError", "ReclabError"]


class ReclabError(Exception):
    """Base class for reclab's user-facing errors (printed without a traceback by the CLI)."""


class DataError(ReclabError):
    """MovieLens 100k is missing, incomplete, corrupted or could not be fetched."""
