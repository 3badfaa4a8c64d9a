"""The renderer remembers template files within a batch and sees edits from the next one."""

from __future__ import annotations

from pathlib import Path

from livebase.delivery.templates import Renderer

ROW = {"key": "90001|winback|1|sms", "customer_id": "90001", "template": "hello"}
STATUS = {"customer_id": "90001", "name": "Анна Петрова", "segments": {"named": "At Risk"}}


def test_an_edited_or_added_template_is_used_after_refresh(tmp_path: Path) -> None:
    folder = tmp_path / "templates" / "hello"
    folder.mkdir(parents=True)
    (folder / "ru.j2").write_text("Привет, {{ customer.first_name }}", encoding="utf-8")
    renderer = Renderer(tmp_path, base_url="https://lb.test", signing_keys=[("k", b"0" * 32)])
    assert renderer.render(ROW, STATUS, track=False).text == "Привет, Анна"
    (folder / "ru.j2").write_text("Здравствуйте, {{ customer.name }}", encoding="utf-8")
    (folder / "at_risk.ru.j2").write_text("Вернитесь, {{ customer.first_name }}", encoding="utf-8")
    assert renderer.render(ROW, STATUS, track=False).text == "Привет, Анна"  # same batch
    renderer.refresh()
    assert renderer.render(ROW, STATUS, track=False).text == "Вернитесь, Анна"
    other = {**STATUS, "segments": {"named": "Champions"}}
    assert renderer.render(ROW, other, track=False).text == "Здравствуйте, Анна Петрова"
