"""The workspace's secrets file: signing keys and credentials, never in livebase.yaml.

``livebase.secrets`` is a small TOML file beside livebase.yaml, created by ``livebase init``
with mode 0600 and a random link-signing key. A credential is looked up in the environment
variable a config key names (``password_env: LIVEBASE_SMTP_PASSWORD``) first, then in this
file under the same name::

    signing_keys = ["k2:…", "k1:…"]        # newest first; older keys still verify old links
    LIVEBASE_SMTP_PASSWORD = "…"

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> secrets = ensure_secrets(root)
>>> oct(secrets.path.stat().st_mode & 0o777)
'0o600'
>>> len(secrets.signing_keys()[0][1])
32
>>> secrets.get("NO_SUCH_SECRET") is None
True
"""

from __future__ import annotations

import os
import secrets as _random
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livebase.errors import WorkspaceError

__all__ = ["SECRETS_FILE", "Secrets", "ensure_secrets", "load_secrets"]

SECRETS_FILE = "livebase.secrets"


def _new_key() -> str:
    return f"k{_random.token_hex(3)}:{_random.token_hex(32)}"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Secrets:
    """The parsed secrets file of a workspace."""

    path: Path
    values: dict[str, Any]

    def get(self, name: str) -> str | None:
        """The secret ``name``: the environment variable of that name, else the file's entry."""
        if name in os.environ:
            return os.environ[name]
        value = self.values.get(name)
        return None if value is None else str(value)

    def require(self, name: str, *, key: str) -> str:
        """Like :meth:`get`, but a missing secret is an error naming the config ``key``."""
        value = self.get(name)
        if value is None or value == "":
            raise WorkspaceError(
                f"{key} names the secret {name}, which is neither set in the environment nor "
                f'in {self.path}: export {name}=… or add {name} = "…" to {self.path.name}'
            )
        return value

    def signing_keys(self) -> list[tuple[str, bytes]]:
        """(key id, key bytes) pairs, newest first: sign with the first, verify with any."""
        raw = self.values.get("signing_keys") or []
        keys: list[tuple[str, bytes]] = []
        for entry in raw:
            key_id, _, hex_key = str(entry).partition(":")
            try:
                keys.append((key_id, bytes.fromhex(hex_key)))
            except ValueError:
                raise WorkspaceError(
                    f"{self.path}: signing_keys has an entry that is not 'id:hex' ({key_id}:…)"
                ) from None
        if not keys:
            raise WorkspaceError(
                f"{self.path} has no signing_keys: run 'livebase keys rotate-signing' to add one"
            )
        return keys

    def with_values(self, **values: Any) -> Secrets:
        """Write ``values`` into the file (mode 0600) and return the new secrets."""
        merged = {**self.values, **values}
        _write(self.path, merged)
        return Secrets(self.path, merged)

    def rotate_signing_key(self, *, keep: int = 3) -> Secrets:
        """A new signing key first; the ``keep - 1`` newest old keys still verify old links."""
        old = [str(v) for v in self.values.get("signing_keys") or []]
        return self.with_values(signing_keys=[_new_key(), *old][:keep])


def _write(path: Path, values: dict[str, Any]) -> None:
    lines = ["# livebase secrets: keep this file private (mode 0600); never commit it", ""]
    for name, value in values.items():
        if isinstance(value, list):
            lines.append(f"{name} = [{', '.join(_quote(str(v)) for v in value)}]")
        else:
            lines.append(f"{name} = {_quote(str(value))}")
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_secrets(root: Path) -> Secrets:
    """Read ``root/livebase.secrets`` (empty when absent); refuses a file others can read."""
    path = root / SECRETS_FILE
    if not path.exists():
        return Secrets(path, {})
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise WorkspaceError(
            f"{path} can be read by other users (mode {oct(mode)}): run 'chmod 600 {path}'"
        )
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise WorkspaceError(f"{path}: not valid TOML ({exc})") from None
    return Secrets(path, values)


def ensure_secrets(root: Path) -> Secrets:
    """The secrets of ``root``, creating the file with a fresh signing key when missing."""
    secrets = load_secrets(root)
    if not secrets.values.get("signing_keys"):
        secrets = secrets.with_values(signing_keys=[_new_key()])
    return secrets
