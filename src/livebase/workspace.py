"""A workspace: a folder with ``livebase.yaml`` and the store ``livebase.duckdb``.

Commands find it from the current folder upward, or from ``--workspace``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from livebase.config import CONFIG_FILE, LivebaseConfig, load_config
from livebase.errors import WorkspaceError, did_you_mean
from livebase.i18n import _l
from livebase.secrets import Secrets, ensure_secrets, load_secrets

if TYPE_CHECKING:
    from livebase.ops.store import OpsStore
    from livebase.store import Store

__all__ = ["STORE_FILE", "TEMPLATES", "Workspace", "find_workspace", "init_workspace"]

STORE_FILE = "livebase.duckdb"
Template = Literal["ecommerce", "school", "subscription"]
TEMPLATES: tuple[Template, ...] = ("ecommerce", "school", "subscription")


@dataclass(frozen=True)
class Workspace:
    """A workspace folder, its validated config and the path of its store."""

    root: Path
    config: LivebaseConfig

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def store_path(self) -> Path:
        return self.root / STORE_FILE

    def secrets(self) -> Secrets:
        """The workspace's secrets file (livebase.secrets, mode 0600)."""
        return load_secrets(self.root)

    def open_ops(self, *, migrate: bool = True) -> OpsStore:
        """Open the workspace's operational store (SQLite beside the config, or ``ops.url``)."""
        from livebase.ops.store import OpsStore, ops_url

        settings = self.config.ops
        password: str | None = None
        if settings.password_env is not None:
            password = os.environ.get(settings.password_env)
            if password is None:
                raise WorkspaceError(
                    f"ops.password_env names {settings.password_env}, which is not set in the "
                    "environment: export it (or remove ops.password_env to use ~/.pgpass)"
                )
        return OpsStore.open(
            ops_url(self.root, settings),
            password=password,
            busy_timeout_ms=settings.busy_timeout_ms,
            migrate=migrate,
        )

    def open_store(
        self,
        *,
        read_only: bool = False,
        command: str | None = None,
        wait_timeout: float | None = None,
    ) -> Store:
        """Open the workspace's store (creating it if the folder has a config but no store).

        Takes the workspace job lock first (exclusive to write, shared to read): a second
        command waits for the first, saying for whom, instead of failing (see livebase.locks).
        """
        from livebase.locks import acquire
        from livebase.store import Store  # DuckDB loads here, not when the CLI starts

        release = acquire(
            self.root, exclusive=not read_only, command=command, wait_timeout=wait_timeout
        )
        try:
            store = Store.open(self.store_path, create=not read_only, read_only=read_only)
        except BaseException:
            release()
            raise
        store.on_close.append(release)
        return store

    @classmethod
    def load(cls, root: Path) -> Workspace:
        return cls(root.resolve(), load_config(root / CONFIG_FILE))


def find_workspace(start: Path, explicit: Path | None = None) -> Workspace:
    """The workspace at ``explicit``, or the nearest folder holding livebase.yaml upward.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> ws = init_workspace(root / "shop", template="ecommerce")
    >>> find_workspace(root / "shop").root == ws.root
    True
    """
    if explicit is not None:
        folder = explicit.expanduser().resolve()
        if folder.is_file() and folder.name == CONFIG_FILE:
            folder = folder.parent
        if not (folder / CONFIG_FILE).exists():
            raise WorkspaceError(
                _l(
                    "--workspace {folder}: no {file} there; create one with "
                    "'livebase init {folder}'",
                    folder=explicit,
                    file=CONFIG_FILE,
                )
            )
        return Workspace.load(folder)
    looked: list[str] = []
    for folder in [start.resolve(), *start.resolve().parents]:
        looked.append(str(folder))
        if (folder / CONFIG_FILE).exists():
            return Workspace.load(folder)
    raise WorkspaceError(
        _l(
            "no livebase workspace here: no {file} in {folder} or any folder above it. "
            "Create one with 'livebase init DIR', change into it, or pass --workspace DIR",
            file=CONFIG_FILE,
            folder=looked[0],
        )
    )


def template_text(template: str, name: str) -> str:
    """The commented livebase.yaml of a template."""
    if template not in TEMPLATES:
        raise WorkspaceError(
            f"unknown template '{template}'{did_you_mean(template, TEMPLATES)}; "
            f"choose one of: {', '.join(TEMPLATES)}"
        )
    text = (
        resources.files("livebase")
        .joinpath("templates", f"{template}.yaml")
        .read_text(encoding="utf-8")
    )
    return text.replace("{name}", name)


def write_template_playbooks(folder: Path, template: str) -> list[Path]:
    """Copy the template's standard playbooks into ``folder/playbooks`` (existing files stay)."""
    source = resources.files("livebase").joinpath("templates", "playbooks", template)
    if not source.is_dir():
        return []
    target = folder / "playbooks"
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for item in sorted(source.iterdir(), key=lambda i: i.name):
        path = target / item.name
        if item.name.endswith(".yaml") and not path.exists():
            path.write_text(item.read_text(encoding="utf-8"), encoding="utf-8")
            written.append(path)
    return written


def init_workspace(folder: Path, *, template: str = "ecommerce", force: bool = False) -> Workspace:
    """Create ``folder`` with a commented livebase.yaml from ``template`` and an empty store."""
    folder = folder.expanduser()
    config_path = folder / CONFIG_FILE
    if config_path.exists() and not force:
        raise WorkspaceError(
            f"{config_path} already exists: this folder is a workspace already "
            "(use --force to overwrite its livebase.yaml; the store is kept)"
        )
    text = template_text(template, folder.resolve().name)
    folder.mkdir(parents=True, exist_ok=True)
    config_path.write_text(text, encoding="utf-8")
    write_template_playbooks(folder, template)
    workspace = Workspace.load(folder)
    workspace.open_store().close()
    workspace.open_ops().close()
    ensure_secrets(workspace.root)
    _copy_message_templates(template, workspace.root)
    return workspace


def _copy_message_templates(template: str, root: Path) -> None:
    """The template's message templates (``templates/<name>/<lang>.j2``) into the workspace's
    ``templates/`` folder; files already there are kept."""
    source = resources.files("livebase").joinpath("templates", template, "templates")
    if not source.is_dir():
        return
    for folder in source.iterdir():
        if not folder.is_dir():
            continue
        target = root / "templates" / folder.name
        for item in folder.iterdir():
            if item.name.endswith(".j2") and not (target / item.name).exists():
                target.mkdir(parents=True, exist_ok=True)
                (target / item.name).write_text(item.read_text(encoding="utf-8"), encoding="utf-8")
