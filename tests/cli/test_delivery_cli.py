"""channels check, template preview, send, worker (SIGTERM), consent/suppress import and forget
through the CLI entry point, against a real SMTP server; and the demo's .eml sink."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from _peers import SmtpSink, smtp_sink
from livebase.cli import main
from livebase.delivery.sink import send_to_sink
from livebase.ops import CONSENTS, CUSTOMER_STATUS, OUTBOX, SUPPRESSIONS, outbox_key
from livebase.workspace import Workspace, init_workspace

NOW = datetime.now(UTC)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _without_channels(text: str) -> str:
    """The template's livebase.yaml without its ``channels:`` and ``policy:`` sections: a test
    declares its own channels, and sends whatever the hour (no quiet hours, no caps)."""
    import re

    return re.sub(r"(?m)^(channels|policy):\n(?:(?:[ ]{2}.*)?\n)*?(?=\S)", "", text)


def _school(tmp_path: Path, port: int, customers: int = 3) -> Workspace:
    ws = init_workspace(tmp_path / "school", template="school")
    config = _without_channels(ws.config_path.read_text(encoding="utf-8"))
    config += (
        "\nchannels:\n"
        f"  email: {{type: smtp, host: 127.0.0.1, port: {port}, security: none, "
        'from: "Школа <hello@school.ru>", cost: 0.05}\n'
        "  calls: {type: export, path: tasks/calls.csv}\n"
        "  tasks: {type: export, path: tasks/mentor_calls.csv}\n"
        "  push: {cost: 0}\n"
        "  sms: {cost: 4.5}\n"
        "service:\n  base_url: https://crm.school.test\n"
    )
    ws.config_path.write_text(config, encoding="utf-8")
    ws = Workspace.load(ws.root)
    ops = ws.open_ops()
    with ops.begin() as con:
        for n in range(1, customers + 1):
            cid = str(90000 + n)
            con.execute(
                CUSTOMER_STATUS.insert().values(
                    customer_id=cid,
                    email=f"s{cid}@example.ru",
                    phone="+79120001122",
                    name="Анна Петрова",
                    timezone="UTC",
                    attributes={"language": "ru"},
                    features={"days_since_login": 21},
                    segments={"school": "At Risk"},
                    since={},
                    thresholds_version="t",
                    as_of=NOW.date(),
                    updated_at=NOW,
                    source="batch",
                )
            )
            con.execute(
                CONSENTS.insert().values(
                    customer_id=cid,
                    channel="any",
                    purpose="marketing",
                    status="granted",
                    source="test",
                    ts=NOW - timedelta(days=10),
                )
            )
            for channel, template in (("email", "winback_email"), ("calls", "at_risk_call")):
                con.execute(
                    OUTBOX.insert().values(
                        key=outbox_key(cid, "winback", 1, channel),
                        customer_id=cid,
                        playbook="winback",
                        occurrence=1,
                        step=channel,
                        channel=channel,
                        template=template,
                        offer="BACK15",
                        payload={"offer": {"discount": 15}},
                        due_at=NOW - timedelta(minutes=1),
                        created_at=NOW,
                        updated_at=NOW,
                    )
                )
    ops.close()
    return ws


@pytest.fixture
def sink() -> SmtpSink:
    with smtp_sink() as server:
        yield server  # type: ignore[misc]


def test_check_preview_send_import_and_forget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sink: SmtpSink
) -> None:
    ws = _school(tmp_path, sink.port)
    w = ("--workspace", str(ws.root))
    code, out, _ = _run(capsys, *w, "channels", "check")
    assert code == 0 and "ok  email (smtp)" in out and "ok  calls (export)" in out
    code, out, err = _run(capsys, *w, "template", "preview", "winback_email", "--customer", "90001")
    assert code == 0, err
    assert "winback_email/at_risk.ru.j2" in out  # the At Risk variant
    assert "Анна, курс ждёт вас" in out
    assert sink.messages == []  # a preview sends nothing
    code, out, err = _run(capsys, *w, "send", "--limit", "2")
    assert code == 0, err
    assert "sent 2" in out
    code, out, _ = _run(capsys, *w, "send")
    assert "sent 4" in out
    assert len(sink.messages) == 3
    calls = (ws.root / "tasks" / "calls.csv").read_text(encoding="utf-8-sig")
    assert calls.count("Позвонить: Анна Петрова") == 3
    code, out, _ = _run(capsys, *w, "send")
    assert "nothing was due" in out

    consents = tmp_path / "consents.csv"
    consents.write_text(
        "customer_id;status;ts;text_version\n90009;granted;2026-05-01;v2\n", "utf-8"
    )
    code, out, _ = _run(capsys, *w, "consent", "import", str(consents))
    assert (code, out.strip()) == (0, "1 consents added, 0 already recorded")
    stop = tmp_path / "stop.csv"
    stop.write_text("address,reason\ns90002@example.ru,complaint\n", "utf-8")
    code, out, _ = _run(capsys, *w, "suppress", "import", str(stop))
    assert "1 suppressions added" in out

    code, out, err = _run(capsys, *w, "forget", "90001", "--by", "dpo", "--yes")
    assert code == 0, err and "erased:" in out
    assert "90001" not in (ws.root / "tasks" / "calls.csv").read_text(encoding="utf-8-sig")
    code, _, err = _run(capsys, *w, "forget", "nobody", "--yes")
    assert code == 1 and "unknown to this workspace" in err


def test_channels_check_names_the_key_of_a_missing_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = init_workspace(tmp_path / "shop")
    config = ws.config_path.read_text(encoding="utf-8")  # the template's channels, plus one
    ws.config_path.write_text(
        config.replace(
            "\nchannels:\n", "\nchannels:\n  tg: {type: telegram, token_env: LB_NO_SUCH_TOKEN}\n", 1
        ),
        encoding="utf-8",
    )
    code, out, _ = _run(capsys, "--workspace", str(ws.root), "channels", "check")
    assert code == 1
    assert "channels.tg.token_env" in out and "LB_NO_SUCH_TOKEN" in out


def test_worker_stops_cleanly_on_sigterm(tmp_path: Path, sink: SmtpSink) -> None:
    ws = _school(tmp_path, sink.port, customers=40)
    sink.behaviour.delay = 0.05  # slow enough that SIGTERM lands mid-run
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "livebase"),
            "--workspace",
            str(ws.root),
            "worker",
            "--poll-seconds",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "worker running" in line, process.stderr.read() if process.stderr else ""
    deadline = time.monotonic() + 60
    while not sink.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    ops = ws.open_ops()
    with ops.read() as con:
        statuses = set(con.execute(sa.select(OUTBOX.c.status)).scalars())
    ops.close()
    assert "sending" not in statuses  # nothing left claimed: finished or never started
    assert "uncertain" not in statuses


def test_the_demo_sink_writes_eml_files(tmp_path: Path) -> None:
    ws = _school(tmp_path, port=1, customers=2)  # the sink replaces host and port
    folder = ws.root / "demo-mail"
    report = send_to_sink(ws, folder, clock=lambda: NOW)
    assert report.tally["sent"] == 2
    assert [p.suffix for p in report.files] == [".eml", ".eml"]
    text = report.files[0].read_bytes()
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in text
    ops = ws.open_ops()
    with ops.read() as con:  # only e-mail went to the sink; the task list waits for `send`
        waiting = con.execute(
            sa.select(sa.func.count()).select_from(OUTBOX).where(OUTBOX.c.status == "queued")
        ).scalar_one()
        suppressed = con.execute(sa.select(sa.func.count()).select_from(SUPPRESSIONS)).scalar_one()
    ops.close()
    assert (waiting, suppressed) == (2, 0)
