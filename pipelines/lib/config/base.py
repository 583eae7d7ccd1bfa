"""What every configuration model shares: unknown keys forbidden, immutability, and how a model reports the
cross-field rules it breaks (defined with the mapping models in `transforms/mappings.py`, their reader's layer)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field

from transforms.mappings import Model, Text, one_name, raise_broken

__all__ = ["Count", "Model", "Text", "one_name", "raise_broken", "web_address"]

Count = Annotated[int, Field(ge=0)]


def web_address(value: str | None) -> str | None:
    parts = urlsplit(value or "")
    if value is not None and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise ValueError("must be an http:// or https:// address")
    return value
