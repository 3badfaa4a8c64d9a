"""Service commands: serve, keys create|list|revoke|rotate-signing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from livebase.cli._common import console, print_json, workspace

__all__ = ["register"]

keys_app = typer.Typer(
    help="API keys (hashed; shown once) and the link-signing key.", no_args_is_help=True
)


def _now() -> datetime:
    return datetime.now(UTC)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="Who uses the key: getcourse, crm, site…")],
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            help="events:write, hooks, customers:read or dashboard (repeat for several).",
        ),
    ],
) -> None:
    """Create an API key and print it once (only its hash is stored).

    Example: livebase keys create --name getcourse --scope hooks
    """
    from livebase.ops.keys import create_key

    ws = workspace()
    with ws.open_ops() as ops:
        created = create_key(ops, name, scope, now=_now())
    console.print(f"key [bold]{created.id}[/] ({created.name}: {' '.join(created.scopes)})")
    console.print("copy it now, it is not shown again:")
    print(created.token)
    if "hooks" in created.scopes:
        base = ws.config.service.base_url.rstrip("/")
        console.print(
            f"GetCourse call URL: {base}/v1/hooks/getcourse/{created.token}", soft_wrap=True
        )


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List API keys (ids, names, scopes; never the secrets).

    Example: livebase keys list
    """
    from livebase.ops.keys import list_keys

    with workspace().open_ops() as ops:
        keys = list_keys(ops)
    if as_json:
        print_json([k.__dict__ for k in keys])
        return
    table = Table(title="API keys", title_justify="left")
    for col in ("id", "name", "scopes", "created", "last used", "revoked"):
        table.add_column(col)
    for k in keys:
        table.add_row(
            k.id,
            k.name,
            " ".join(k.scopes),
            str(k.created_at)[:16],
            str(k.last_used_at or "—")[:16],
            str(k.revoked_at or "—")[:16],
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from keys list).")],
) -> None:
    """Revoke a key: requests with it fail at once.

    Example: livebase keys revoke 3fa2c91b0d
    """
    from livebase.ops.keys import revoke_key

    with workspace().open_ops() as ops:
        key = revoke_key(ops, key_id, now=_now())
    console.print(f"key {key.id} ({key.name}) revoked at {str(key.revoked_at)[:19]}")


@keys_app.command("rotate-signing")
def keys_rotate_signing() -> None:
    """Sign new links with a new key; links already sent stay valid for service.old_link_days.

    Example: livebase keys rotate-signing
    """
    from livebase.ops.signing import rotate_signing

    ws = workspace()
    days = ws.config.service.old_link_days
    secrets = rotate_signing(ws.secrets(), now=_now(), old_link_days=days)
    newest = secrets.signing_keys()[0][0]
    console.print(
        f"new signing key {newest} in {secrets.path.name}; links signed before stay valid for "
        f"{days} days (service.old_link_days)"
    )


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (service.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (service.port).")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the service: events API, GetCourse and provider webhooks, tracking, unsubscribe.

    Example: livebase serve --port 8310
    """
    from livebase.web.serve import serve as run

    run(workspace(), host=host, port=port, log_level=log_level)


def register(app: typer.Typer) -> None:
    """Add the service commands to the CLI."""
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
