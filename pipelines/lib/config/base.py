"""What every configuration model shares: unknown keys forbidden, immutability, and how a model reports the
cross-field rules it breaks."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from transforms.domain import CHANNELS

Text = Annotated[str, Field(min_length=1)]
Channel = Literal[CHANNELS]
Count = Annotated[int, Field(ge=0)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def raise_broken(problems: list[tuple[tuple, str]]) -> None:
    """Report a model's broken cross-field rules together, each with the key (relative to the model) it is about."""
    if problems:
        raise PydanticCustomError("config_rules", "{count} rule(s) broken", {"problems": problems,
                                                                               "count": len(problems)})


def one_name(value: str) -> bool:
    """A name that is one path part (a folder under data/landing/, a file in a month's folder), never a path."""
    return value not in ("", ".", "..") and "/" not in value and "\\" not in value


def web_address(value: str | None) -> str | None:
    parts = urlsplit(value or "")
    if value is not None and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise ValueError("must be an http:// or https:// address")
    return value
