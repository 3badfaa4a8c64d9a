"""'livebase sync getcourse' and the sync lag in 'livebase status', as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from livebase.cli import main
from livebase.connectors.getcourse.replay import ReplayServer
from livebase.workspace import init_workspace

KEY = "cli-secret-7d1e0b55aa"


def test_sync_then_status_shows_the_lag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = init_workspace(tmp_path / "school", template="school")
    with ReplayServer(api_key=KEY) as server:
        server.add_export(
            "deals",
            ["ID заказа", "ID пользователя", "Email", "Дата создания", "Дата оплаты", "Статус",
             "Стоимость, RUB"],
            [["1", "7", "a@example.ru", "2026-11-01 10:00", "2026-11-01 10:05", "Завершен", "990"]],
        )  # fmt: skip
        with ws.config_path.open("a", encoding="utf-8") as handle:
            handle.write(
                f"\nsync:\n  getcourse:\n    base_url: {server.url}\n    objects: [deals]\n"
                "    poll_interval_seconds: 0.01\n"
            )
        ws.secrets().with_values(LIVEBASE_GETCOURSE_KEY=KEY)
        code = main(["--workspace", str(ws.root), "sync", "getcourse", "--format", "json"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        result = json.loads(captured.out)
        assert result["objects"][0]["inserted"] == 1 and result["export_requests"] == 1

        code = main(["--workspace", str(ws.root), "sync", "getcourse"])
        out = capsys.readouterr().out
        assert code == 0 and "GetCourse sync" in out and "unchanged" in out
        assert "export requests left in the budget window" in out

        code = main(["--workspace", str(ws.root), "sync", "getcourse", "--group", "G"])
        assert code == 1 and "--group" in capsys.readouterr().err

        code = main(["--workspace", str(ws.root), "sync", "getcourse", "--objects", "dels"])
        assert code == 1 and "did you mean 'deals'" in capsys.readouterr().err

    code = main(["--workspace", str(ws.root), "status", "--format", "json"])
    status = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [s["source"] for s in status["sync"]] == ["getcourse:deals"]
    assert status["sync"][0]["newest_source_ts"].startswith("2026-11-01T07:05")
    code = main(["--workspace", str(ws.root), "status"])
    out = capsys.readouterr().out
    assert "getcourse:deals" in out and "lag" in out
    assert KEY not in out
