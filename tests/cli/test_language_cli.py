"""The real ``livebase`` command in Russian (LIVEBASE_LANG, livebase.yaml's language:, the
locale) and in English by default: --help and the errors most users meet first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from livebase.workspace import init_workspace

LIVEBASE = [sys.executable, "-c", "from livebase.cli import main; main()"]


def livebase(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a fresh process, with a plain locale unless ``env`` says."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEBASE_", "LC_"))}
    clean.update({"LANG": "C.UTF-8", "COLUMNS": "100", **env})
    return subprocess.run(
        [*LIVEBASE, *args], cwd=cwd, env=clean, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Russian school workspace (language: ru) with an empty store."""
    return init_workspace(tmp_path_factory.mktemp("lang") / "school", template="school").root


def test_help_is_english_by_default_and_russian_when_asked(tmp_path: Path) -> None:
    english = livebase("--help", cwd=tmp_path)
    assert english.returncode == 0
    assert "Commands" in english.stdout and "Turn your customer base" in english.stdout
    russian = livebase("--help", cwd=tmp_path, LIVEBASE_LANG="ru")
    assert russian.returncode == 0
    assert "Команды" in russian.stdout and "Превратите клиентскую базу" in russian.stdout
    assert "Turn your customer base" not in russian.stdout
    by_locale = livebase("runs", "--help", cwd=tmp_path, LANG="ru_RU.UTF-8")
    assert "Список запусков сегментации или удаление одного из них" in by_locale.stdout


def test_a_russian_workspace_speaks_russian_in_help_and_errors(school: Path) -> None:
    helped = livebase("segment", "--help", cwd=school)
    assert "Сегментировать базу или показать клиентов сегмента" in helped.stdout
    assert "ГГГГ-ММ-ДД или ДД.ММ.ГГГГ" in helped.stdout  # a date option: help and formats
    empty = livebase("segment", cwd=school)
    assert empty.returncode == 1
    assert "ошибка: в хранилище пока нет оплаченных заказов" in empty.stderr
    assert "Traceback" not in empty.stderr
    unknown = livebase("transitions", "--scheme", "nmaed", cwd=school)
    assert unknown.returncode == 1
    assert "неизвестная схема 'nmaed' — может быть, 'named'?" in unknown.stderr
    no_run = livebase("runs", "delete", "2030-01-01", cwd=school)
    assert "нет запуска сегментации на 2030-01-01; последние запуски: пока нет" in no_run.stderr
    missing = livebase("ingest", "orders", "nowhere.csv", cwd=school)
    assert missing.returncode == 1 and "nowhere.csv: файл не найден" in missing.stderr
    # the user's setting wins over the workspace's
    english = livebase("segment", cwd=school, LIVEBASE_LANG="en")
    assert "error: the store has no paid orders yet" in english.stderr


def test_config_errors_name_key_and_line_in_russian(tmp_path: Path) -> None:
    (tmp_path / "livebase.yaml").write_text("language: ru\nsegmnets: {}\n", encoding="utf-8")
    done = livebase("status", cwd=tmp_path)
    assert done.returncode == 1
    assert "segmnets (строка 2): неизвестный ключ 'segmnets' — может быть, 'segments'?" in (
        done.stderr
    )
    english = livebase("status", cwd=tmp_path, LIVEBASE_LANG="en")
    assert "segmnets (line 2): unknown key 'segmnets'" in english.stderr


def test_no_workspace_is_said_in_the_locale_language(tmp_path: Path) -> None:
    done = livebase("--workspace", str(tmp_path), "status", cwd=tmp_path, LANG="ru_RU.UTF-8")
    assert done.returncode == 1
    assert f"--workspace {tmp_path}: там нет livebase.yaml" in done.stderr
    english = livebase("--workspace", str(tmp_path), "status", cwd=tmp_path)
    assert f"--workspace {tmp_path}: no livebase.yaml there" in english.stderr
