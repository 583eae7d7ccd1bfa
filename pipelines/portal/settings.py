"""The portal's settings, from the environment the Makefile sets (PIPELINE_DATA_DIR, PIPELINE_CONFIG_DIR, and
DAGSTER_HOME, whose runs give a submission's status) and its own (PORTAL_DIR, PORTAL_SECRET_KEY,
PORTAL_SECURE_COOKIES; README, "The submission portal")."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PortalSettings:
    data_dir: Path  # the pipeline's data/: landing/ and published/ are read and written here
    config_dir: Path
    portal_dir: Path  # the portal's store (portal.sqlite), its uploads and, unless given, its session key
    secret_key: str | None = None  # signs the session cookie; None: a random key kept in portal_dir/session_key
    secure_cookies: bool = False  # True behind a TLS proxy: the cookie is sent over HTTPS only
    dagster_home: Path | None = None  # the pipeline's Dagster instance, whose runs give a submission's status

    @classmethod
    def from_environment(cls) -> PortalSettings:
        data_dir = Path(os.environ.get("PIPELINE_DATA_DIR", "data"))
        return cls(data_dir=data_dir, config_dir=Path(os.environ.get("PIPELINE_CONFIG_DIR", "config")),
                   portal_dir=Path(os.environ.get("PORTAL_DIR", data_dir / "portal")),
                   secret_key=os.environ.get("PORTAL_SECRET_KEY") or None,
                   secure_cookies=os.environ.get("PORTAL_SECURE_COOKIES") == "1",
                   dagster_home=Path(os.environ["DAGSTER_HOME"]) if os.environ.get("DAGSTER_HOME") else None)

    @property
    def store_path(self) -> Path:
        return self.portal_dir / "portal.sqlite"

    def session_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = self.portal_dir / "session_key"
        if not path.exists():
            self.portal_dir.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return path.read_text()
