"""Errors of the dialog providers."""

from __future__ import annotations


class UiUnavailable(RuntimeError):
    """No dialog can be shown: no display (or no Tk), or no terminal. The daemon falls back
    to another provider, or answers that nobody can consent."""
