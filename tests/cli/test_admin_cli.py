"""init, config, status and ingest through the CLI entry point, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from livebase.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_init_status_and_ingest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "shop"
    code, out, _ = _run(capsys, "init", str(ws), "--template", "school")
    # the terminal wraps long paths (pytest-xdist's are longer): read the output unwrapped
    assert code == 0 and "livebase.yaml" in out.replace("\n", "")
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,customer_id,date,amount\nA1,c1,2026-01-05,10.50\n", "utf-8")
    code, _, err = _run(
        capsys, "--workspace", str(ws), "ingest", "orders", str(orders), "--preset", "generic"
    )
    assert code == 0, err
    code, out, _ = _run(capsys, "--workspace", str(ws), "status", "--format", "json")
    status = json.loads(out)
    assert status["tables"]["orders"] == 1
    assert status["paid_revenue"] == 10.5
    assert status["loads"][0]["rows_read"] == 1


def test_workspace_is_found_from_a_subfolder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(capsys, "init", str(tmp_path / "ws"))
    sub = tmp_path / "ws" / "exports" / "2026"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    code, out, _ = _run(capsys, "status", "--format", "json")
    assert code == 0
    assert json.loads(out)["workspace"] == str((tmp_path / "ws").resolve())


def test_no_workspace_says_where_it_looked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, "status")
    assert code == 1
    assert "no livebase workspace here" in err and "livebase init" in err


def test_config_error_names_key_line_and_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "init", str(tmp_path / "ws"), "--template", "school")
    config = tmp_path / "ws" / "livebase.yaml"
    text = config.read_text("utf-8").replace("preset: getcourse\n", "preset: getcorse\n", 1)
    config.write_text(text, "utf-8")
    line = text.splitlines().index("    preset: getcorse") + 1
    code, _, err = _run(capsys, "--workspace", str(tmp_path / "ws"), "config", "check")
    assert code == 1
    flat = " ".join(err.split())
    # the school workspace speaks Russian
    assert f"ошибка: {config}: ingest.orders.preset (строка {line})" in flat
    assert "неизвестный пресет 'getcorse' — может быть, 'getcourse'?" in flat


def test_unknown_preset_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "init", str(tmp_path / "ws"))
    code, _, err = _run(
        capsys, "-w", str(tmp_path / "ws"), "ingest", "orders", "x.csv", "--preset", "getcorse"
    )
    assert code == 1 and "did you mean 'getcourse'?" in " ".join(err.split())


def test_config_schema_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "config", "schema")
    assert code == 0
    schema = json.loads(out)
    assert "ingest" in schema["properties"]


def test_init_refuses_an_existing_workspace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "init", str(tmp_path / "ws"))
    code, _, err = _run(capsys, "init", str(tmp_path / "ws"))
    assert code == 1 and "already exists" in err


def test_stdin_and_folder_inputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    _run(capsys, "init", str(tmp_path / "ws"))
    folder = tmp_path / "nightly"
    folder.mkdir()
    for day in (1, 2):
        (folder / f"orders-{day}.csv").write_text(
            f"order_id,customer_id,date,amount\nA{day},c{day},2026-01-0{day},5\n", "utf-8"
        )
    code, _, err = _run(capsys, "-w", str(tmp_path / "ws"), "ingest", "orders", str(folder))
    assert code == 0, err
    data = b"order_id,customer_id,date,amount\nB1,c9,2026-02-01,7\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, _, err = _run(capsys, "-w", str(tmp_path / "ws"), "ingest", "orders", "-")
    assert code == 0, err
    code, out, _ = _run(capsys, "-w", str(tmp_path / "ws"), "status", "--format", "json")
    status = json.loads(out)
    assert status["tables"]["orders"] == 3
    assert next(load["file"] for load in status["loads"]) == "<stdin>"
