"""Issue 13, a newcomer's first hour: each reproduction run through the real entry point
(``livebase.cli.main``) on a small workspace, checking the fixed behaviour."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from livebase.cli import main
from livebase.workspace import init_workspace

ORDERS = [
    # customer, paid day, amount
    ("a", "2026-01-10", 100),
    ("a", "2026-03-05", 150),
    ("b", "2026-02-01", 40),
    ("c", "2026-06-20", 900),
    ("c", "2026-06-29", 300),
    ("d", "2025-11-02", 20),
]


def _workspace(root: Path, template: str = "ecommerce", orders: bool = True) -> Path:
    ws = init_workspace(root, template=template)
    if orders:
        with ws.open_store() as store:
            for customer in sorted({o[0] for o in ORDERS}):
                store.con.execute(
                    "INSERT INTO customers (customer_id, name, first_load, last_load) "
                    "VALUES (?, ?, 1, 1)",
                    [customer, f"Клиент {customer} ☃"],
                )
            for i, (customer, day, amount) in enumerate(ORDERS):
                store.con.execute(
                    "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, "
                    "paid_amount, currency, status, first_load, last_load) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'RUB', 'paid', 1, 1)",
                    [str(i), customer, day, day, amount, amount],
                )
    return root


def run(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return _workspace(tmp_path / "shop")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("livebase ")


def test_segment_on_an_empty_store_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = _workspace(tmp_path / "empty", orders=False)
    code, _, err = run(capsys, empty, "segment")
    assert code == 1
    assert "no paid orders" in err and "today" not in err
    code, out, _ = run(capsys, empty, "runs", "--format", "json")
    assert code == 0 and json.loads(out) == []


def test_transitions_between_runs_without_moves_do_not_crash(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, ws, "segment", "--as-of", "2026-06-29")[0] == 0
    assert run(capsys, ws, "segment", "--as-of", "29.06.2026", "--scheme", "named")[0] == 0
    code, out, _ = run(capsys, ws, "transitions", "--from", "2026-06-29", "--to", "2026-06-29")
    assert code == 0, out
    assert "no customer moved" in out


def test_an_as_of_outside_the_data_needs_force_and_can_be_deleted(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, ws, "segment", "--as-of", "2030-01-01")
    assert code == 1
    assert "after the latest paid order (2026-06-29)" in " ".join(err.split())
    assert "--force" in err
    code, _, err = run(capsys, ws, "segment", "--as-of", "1990-01-01")
    assert code == 1 and "before the first paid order" in " ".join(err.split())
    assert run(capsys, ws, "segment", "--as-of", "2026-06-29")[0] == 0
    assert run(capsys, ws, "segment", "--as-of", "2030-01-01", "--force")[0] == 0
    code, out, _ = run(capsys, ws, "runs", "--format", "json")
    assert {r["as_of"][:10] for r in json.loads(out)} == {"2026-06-29", "2030-01-01"}
    code, _, err = run(capsys, ws, "runs", "delete", "01.01.2030")
    assert code == 0 and "deleted the run of 2030-01-01" in err
    code, out, _ = run(capsys, ws, "runs", "--format", "json")
    assert {r["as_of"][:10] for r in json.loads(out)} == {"2026-06-29"}
    code, out, _ = run(capsys, ws, "history", "c", "--format", "json")
    assert all(r["valid_to"] is None for r in json.loads(out))  # reopened as before
    code, _, err = run(capsys, ws, "runs", "delete", "2030-01-01")
    assert code == 1 and "no segmentation run" in err


def test_outputs_follow_the_extension_or_are_refused(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, ws, "segment", "--out", "kpi.txt")
    assert code == 1 and "name the file .csv or .json or .parquet or .xlsx" in " ".join(err.split())
    code, _, _ = run(capsys, ws, "segment", "--out", str(tmp_path / "kpi.json"))
    assert code == 0
    assert json.loads((tmp_path / "kpi.json").read_text(encoding="utf-8"))[0]["scheme"]
    code, out, _ = run(capsys, ws, "segment", "--out", "-", "--format", "csv")
    assert code == 0 and out.startswith("scheme,segment")
    assert not (tmp_path / "-").exists()
    code, _, err = run(capsys, ws, "transitions", "--chart", str(tmp_path / "flows.svg"))
    assert code == 1 and "name the file .png or .html" in " ".join(err.split())


def test_csv_exports_open_in_russian_excel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = _workspace(tmp_path / "school", template="school")
    assert run(capsys, ws, "segment", "--as-of", "2026-06-29")[0] == 0
    scheme = "named"
    code, out, _ = run(capsys, ws, "history", "c", "--format", "json")
    segment = next(r["segment"] for r in json.loads(out) if r["scheme"] == scheme)
    target = tmp_path / "segment.csv"
    code, _, err = run(capsys, ws, "export", "segment", segment, "--scheme", scheme,
                       "--out", str(target))  # fmt: skip
    assert code == 0, err
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b";" in raw.splitlines()[0]
    code, _, err = run(capsys, ws, "export", "segment", segment, "--scheme", scheme,
                       "--out", str(target), "--encoding", "cp1251")  # fmt: skip
    assert code == 0
    assert "'☃' (U+2603)" in err
    assert target.read_bytes().decode("cp1251").splitlines()[0].count(";") > 3


def test_demo_never_wipes_the_users_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "demo-school"
    folder.mkdir()
    (folder / ".livebase-demo").write_text("x", encoding="utf-8")
    (folder / "my-notes.txt").write_text("mine", encoding="utf-8")
    code = main(["demo", "--out", str(folder)])
    err = capsys.readouterr().err
    assert code == 1 and "my-notes.txt" in err and "--force" in err
    assert (folder / "my-notes.txt").read_text(encoding="utf-8") == "mine"


def test_no_traceback_without_debug(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, ws, "segment", "--as-of", "2030-01-01")
    assert code == 1 and "Traceback" not in err
    assert datetime.now()  # the clock is the CLI's
