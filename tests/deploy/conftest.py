"""Fixtures of the deploy tests (the helpers live in deploy_support.py)."""

from deploy_support import wheels

__all__ = ["wheels"]
