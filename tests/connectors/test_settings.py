"""The sync: section: defaults, the template's commented example, and errors that say where."""

from __future__ import annotations

import pytest

from livebase.config import parse_config
from livebase.errors import ConfigError
from livebase.workspace import template_text


def test_the_school_template_example_parses_once_uncommented() -> None:
    text = template_text("school", "x")
    assert parse_config(text).sync.getcourse is None
    head, block = text.rsplit("# sync:", 1)
    lines = ("# sync:" + block).splitlines()
    settings = parse_config(
        head + "\n".join(line[2:] if line.startswith("# ") else line for line in lines)
    ).sync.getcourse
    assert settings is not None
    assert (settings.url, settings.objects, settings.request_budget) == (
        "https://myschool.getcourse.ru",
        ("deals", "users"),
        90,
    )


@pytest.mark.parametrize(
    ("yaml", "says"),
    [
        ("sync:\n  getcourse:\n    objects: [deals]\n", "needs account"),
        (
            "sync:\n  getcourse:\n    account: s\n    objects: [deals, payments]\n",
            "revenue would count twice",
        ),
        ("sync:\n  getcourse:\n    account: s\n    objects: [dels]\n", "sync.getcourse.objects"),
        ("sync:\n  getcourse:\n    account: s\n    api_key: abc\n", "sync.getcourse.api_key"),
    ],
)
def test_config_errors_name_the_key(yaml: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml)
    assert says in str(caught.value)
