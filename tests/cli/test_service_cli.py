"""livebase keys create|list|revoke|rotate-signing, as a user runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from livebase.cli import main
from livebase.ops.keys import KeyNotValid, authenticate
from livebase.ops.tables import API_KEYS
from livebase.workspace import Workspace, init_workspace


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_keys_are_printed_once_stored_hashed_and_revocable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = init_workspace(tmp_path / "shop")
    w = ("--workspace", str(ws.root))
    code, out, err = _run(capsys, *w, "keys", "create", "--name", "getcourse", "--scope", "hooks")
    assert code == 0, err
    token = next(line for line in out.splitlines() if line.startswith("lb_"))
    assert "/v1/hooks/getcourse/" in out
    with ws.open_ops() as ops:
        with ops.read() as con:
            stored = con.execute(sa.select(API_KEYS.c.secret_hash)).scalar_one()
        assert token not in stored and stored.startswith("$argon2id$")
        assert authenticate(ops, token, "hooks", now=datetime.now(UTC)).name == "getcourse"
    code, out, _ = _run(capsys, *w, "keys", "list", "--json")
    [listed] = json.loads(out)
    assert listed["name"] == "getcourse" and token not in out
    code, out, _ = _run(capsys, *w, "keys", "revoke", listed["id"])
    assert code == 0 and "revoked" in out
    with ws.open_ops() as ops, pytest.raises(KeyNotValid):
        authenticate(ops, token, "hooks", now=datetime.now(UTC))
    code, _, err = _run(capsys, *w, "keys", "create", "--name", "x", "--scope", "event:write")
    assert code == 1 and "did you mean 'events:write'" in err


def test_rotate_signing_keeps_the_old_key_for_verification(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = init_workspace(tmp_path / "shop")
    before = ws.secrets().signing_keys()
    code, out, err = _run(capsys, "--workspace", str(ws.root), "keys", "rotate-signing")
    assert code == 0, err
    after = Workspace.load(ws.root).secrets().signing_keys()
    assert after[1] == before[0] and after[0] != before[0]
    assert "90 days" in out
    assert (ws.root / "livebase.secrets").stat().st_mode & 0o777 == 0o600
