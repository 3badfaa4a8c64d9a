"""Message templates: Jinja2 in a sandbox, files in the workspace's ``templates/`` folder.

One folder per template, one file per language (and per variant)::

    templates/winback_email/ru.j2            the Russian default
    templates/winback_email/en.j2
    templates/winback_email/champions.ru.j2  variant for customers in a segment named Champions
                                             (or for the outbox row's variant "champions")

A file has up to three blocks; a file without blocks is the text::

    {% block subject %}{{ customer.first_name }}, мы скучаем{% endblock %}
    {% block text %}Вернитесь со скидкой {{ offer.discount }}%: https://school.ru/back{% endblock %}
    {% block html %}<p>Вернитесь: <a href="https://school.ru/back">школа</a></p>{% endblock %}

Names a template may use: ``customer`` (id, name, first_name, email, phone, timezone, language,
attributes), ``features`` (recency_days, clv…), ``segments`` (scheme → segment), ``offer``
(code and the offer's fields from the plan), ``step`` (name, playbook, occurrence),
``playbook``, ``payload`` and ``unsubscribe_url``. Any other name, an unknown customer field,
a scheme the workspace does not have or an underscore attribute is an error of
:func:`check_templates` (``playbook check``), never a surprise at send time.

The HTML is auto-escaped; the subject and text are not. On rendering, every http(s) link is
replaced by a signed tracking URL (:mod:`livebase.delivery.links`) and an open pixel is added
to the HTML; the targets are returned so the worker records them with the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from livebase.delivery.links import SigningKeys, click_url, open_url
from livebase.errors import TemplateError

__all__ = [
    "CONTEXT_NAMES",
    "CUSTOMER_FIELDS",
    "TEMPLATES_DIR",
    "RenderedMessage",
    "Renderer",
    "build_context",
    "check_templates",
    "rewrite_links",
    "slug",
]

TEMPLATES_DIR = "templates"
CONTEXT_NAMES = frozenset(
    {"customer", "features", "segments", "offer", "step", "playbook", "payload", "unsubscribe_url"}
)
CUSTOMER_FIELDS = frozenset(
    {"id", "name", "first_name", "email", "phone", "timezone", "language", "attributes"}
)
STEP_FIELDS = frozenset({"name", "playbook", "occurrence", "channel"})
BLOCKS = ("subject", "text", "html")
_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_HREF = re.compile(r"""(href\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)


def slug(text: str) -> str:
    """A file-name form of a segment name.

    >>> slug("At Risk"), slug("Can't Lose"), slug("Чемпионы")
    ('at_risk', 'cant_lose', 'чемпионы')
    """
    cleaned = re.sub(r"[^\w\s-]", "", text.strip().lower())
    return re.sub(r"[\s-]+", "_", cleaned)


@dataclass(frozen=True)
class RenderedMessage:
    """A template rendered for one customer: the parts and the link targets, in order."""

    text: str
    subject: str | None = None
    html: str | None = None
    links: list[str] = field(default_factory=list)
    file: str = ""


def _environment(root: Path, *, autoescape: bool) -> SandboxedEnvironment:
    # no auto_reload (a stat of the file per block rendered): Renderer.refresh reloads instead
    return SandboxedEnvironment(
        auto_reload=False,
        loader=jinja2.FileSystemLoader(str(root / TEMPLATES_DIR), encoding="utf-8"),
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def build_context(
    status: Mapping[str, Any] | None,
    message: Mapping[str, Any],
    *,
    unsubscribe_url: str | None = None,
    default_language: str = "ru",
) -> dict[str, Any]:
    """The names a template sees, from a ``customer_status`` row and an outbox row.

    >>> ctx = build_context({"customer_id": "7", "name": "Анна Петрова", "features": {"clv": 12},
    ...     "segments": {"named": "At Risk"}, "attributes": {}}, {"step": "email",
    ...     "playbook": "winback", "occurrence": 1, "offer": "BACK15",
    ...     "payload": {"offer": {"discount": 15}}})
    >>> ctx["customer"]["first_name"], ctx["offer"]["discount"], ctx["segments"]["named"]
    ('Анна', 15, 'At Risk')
    """
    status = status or {}
    attributes = dict(status.get("attributes") or {})
    name = status.get("name") or ""
    payload = dict(message.get("payload") or {})
    offer: dict[str, Any] | None = None
    if message.get("offer") is not None or isinstance(payload.get("offer"), Mapping):
        offer = {"code": message.get("offer"), **dict(payload.get("offer") or {})}
    customer = {
        "id": str(status.get("customer_id") or message.get("customer_id") or ""),
        "name": name,
        "first_name": name.split()[0] if name.strip() else "",
        "email": status.get("email") or "",
        "phone": status.get("phone") or "",
        "timezone": status.get("timezone") or "",
        "language": attributes.get("language") or default_language,
        "attributes": attributes,
    }
    return {
        "customer": customer,
        "features": dict(status.get("features") or {}),
        "segments": dict(status.get("segments") or {}),
        "offer": offer,
        "step": {
            "name": message.get("step"),
            "playbook": message.get("playbook"),
            "occurrence": message.get("occurrence"),
            "channel": message.get("channel"),
        },
        "playbook": message.get("playbook"),
        "payload": payload,
        "unsubscribe_url": unsubscribe_url or "",
    }


def rewrite_links(
    html: str | None, text: str, *, track: Any, skip_prefix: str
) -> tuple[str | None, str, list[str]]:
    """Replace every http(s) link in ``html`` (href attributes) and ``text`` with
    ``track(index)``; the same URL gets the same index; URLs under ``skip_prefix`` (the
    service's own) stay. Returns the new html, text and the targets in index order.

    >>> rewrite_links('<a href="https://a.ru/x">x</a>', "see https://a.ru/x and https://b.ru",
    ...     track=lambda i: f"T{i}", skip_prefix="https://lb")
    ('<a href="T1">x</a>', 'see T1 and T2', ['https://a.ru/x', 'https://b.ru'])
    """
    targets: list[str] = []

    def index_of(url: str) -> int:
        if url not in targets:
            targets.append(url)
        return targets.index(url) + 1

    def in_html(match: re.Match[str]) -> str:
        url = match.group(3)
        if url.startswith(skip_prefix):
            return match.group(0)
        plain = url.replace("&amp;", "&")
        return f"{match.group(1)}{match.group(2)}{track(index_of(plain))}{match.group(2)}"

    def in_text(match: re.Match[str]) -> str:
        url = match.group(0).rstrip(".,;:!?")
        tail = match.group(0)[len(url) :]
        if url.startswith(skip_prefix):
            return match.group(0)
        return f"{track(index_of(url))}{tail}"

    new_html = _HREF.sub(in_html, html) if html is not None else None
    new_text = _URL.sub(in_text, text)
    return new_html, new_text, targets


def _pixel(html: str, url: str) -> str:
    tag = f'<img src="{url}" width="1" height="1" alt="" style="display:none">'
    lower = html.lower()
    at = lower.rfind("</body>")
    return html[:at] + tag + html[at:] if at >= 0 else html + tag


class Renderer:
    """Renders outbox rows with the workspace's templates (see the module docstring)."""

    def __init__(
        self,
        root: Path,
        *,
        base_url: str,
        signing_keys: SigningKeys,
        default_language: str = "ru",
        track_links: bool = True,
    ) -> None:
        self.root = root
        self.base_url = base_url.rstrip("/")
        self.keys = signing_keys
        self.default_language = default_language
        self.track_links = track_links
        self._text_env = _environment(root, autoescape=False)
        self._html_env = _environment(root, autoescape=True)
        self._files: dict[tuple[str, str, str | None, tuple[str, ...]], str] = {}
        self._globals: dict[tuple[int, str], dict[str, Any]] = {}

    def refresh(self) -> None:
        """Look for template files again (the worker calls it before each batch: a file added
        or edited meanwhile is used from the next batch on)."""
        self._files.clear()
        self._globals.clear()
        for env in (self._text_env, self._html_env):
            if env.cache is not None:
                env.cache.clear()

    def template_file(
        self, name: str, *, language: str, variant: str | None, segments: Mapping[str, Any]
    ) -> str:
        """The template file (relative to ``templates/``) for these choices (remembered until
        :meth:`refresh`)."""
        key = (name, language, variant, tuple(str(v) for v in segments.values() if v))
        found = self._files.get(key)
        if found is None:
            found = self._files[key] = self._find_file(
                name, language=language, variant=variant, segments=segments
            )
        return found

    def _find_file(
        self, name: str, *, language: str, variant: str | None, segments: Mapping[str, Any]
    ) -> str:
        folder = self.root / TEMPLATES_DIR / name
        if not folder.is_dir():
            raise TemplateError(
                f"no folder {TEMPLATES_DIR}/{name}/ in the workspace: create it with a "
                f"{language}.j2 file",
                template=name,
            )
        languages = [language, self.default_language, "ru", "en"]
        variants = [slug(variant)] if variant else []
        variants += [slug(str(v)) for v in segments.values() if v]
        for lang in dict.fromkeys(languages):
            for candidate in [*(f"{v}.{lang}.j2" for v in variants), f"{lang}.j2"]:
                if (folder / candidate).is_file():
                    return f"{name}/{candidate}"
        raise TemplateError(
            f"no {language}.j2 (nor another language) in {TEMPLATES_DIR}/{name}/", template=name
        )

    def render(
        self,
        message: Mapping[str, Any],
        status: Mapping[str, Any] | None,
        *,
        unsubscribe_url: str | None = None,
        track: bool | None = None,
    ) -> RenderedMessage:
        """Render the outbox row ``message`` for the customer ``status``.

        Without a template the text is ``payload.text`` (tasks, simple notices).
        """
        context = build_context(
            status,
            message,
            unsubscribe_url=unsubscribe_url,
            default_language=self.default_language,
        )
        name = message.get("template")
        if not name:
            text = str(context["payload"].get("text") or "")
            subject = context["payload"].get("subject")
            return RenderedMessage(text=text, subject=None if subject is None else str(subject))
        file = self.template_file(
            str(name),
            language=str(context["customer"]["language"]),
            variant=message.get("variant"),
            segments=context["segments"],
        )
        parts = {
            **self._blocks(self._text_env, file, ("subject", "text"), context),
            **self._blocks(self._html_env, file, ("html",), context),
        }
        text = parts["text"] if parts["text"] is not None else ""
        html = parts["html"]
        subject = " ".join(parts["subject"].split()) if parts["subject"] is not None else None
        links: list[str] = []
        key = str(message["key"])
        if self.track_links if track is None else track:
            html, text, links = rewrite_links(
                html,
                text,
                track=lambda i: click_url(self.base_url, self.keys, key, i),
                skip_prefix=self.base_url,
            )
            if html is not None:
                html = _pixel(html, open_url(self.base_url, self.keys, key))
        return RenderedMessage(
            text=text.strip(), subject=subject, html=html, links=links, file=file
        )

    def _blocks(
        self,
        env: SandboxedEnvironment,
        file: str,
        blocks: tuple[str, ...],
        context: dict[str, Any],
    ) -> dict[str, str | None]:
        """The named blocks of ``file`` rendered with one template context (making a context
        costs more than rendering a short block); None for a block the file lacks."""
        block = blocks[0]
        try:
            template = env.get_template(file)
            if not template.blocks:
                return {b: template.render(context) if b == "text" else None for b in blocks}
            # the template's globals merged once per template, not once per context (Jinja
            # copies them from a ChainMap for every context it makes otherwise)
            globals_ = self._globals.get((id(env), file))
            if globals_ is None:
                globals_ = self._globals[(id(env), file)] = dict(template.globals)
            shared = template.new_context({**globals_, **context}, shared=True)
            rendered: dict[str, str | None] = {}
            for block in blocks:
                render = template.blocks.get(block)
                rendered[block] = None if render is None else "".join(render(shared))
            return rendered
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(exc.message or "syntax error", file=file, line=exc.lineno) from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"{exc.message} (in block {block})", file=file) from None
        except jinja2.exceptions.SecurityError as exc:
            raise TemplateError(f"not allowed in a template: {exc}", file=file) from None
        except jinja2.TemplateError as exc:
            raise TemplateError(str(exc), file=file) from None


def _problems(
    source: str, file: str, env: SandboxedEnvironment, known_schemes: Iterable[str] | None
) -> list[str]:
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return [f"{file}, line {exc.lineno}: {exc.message}"]
    found: list[str] = []
    for name in sorted(meta.find_undeclared_variables(tree) - CONTEXT_NAMES):
        found.append(
            f"{file}: unknown name '{name}' (use one of {', '.join(sorted(CONTEXT_NAMES))})"
        )
    schemes = None if known_schemes is None else set(known_schemes)
    for node in tree.find_all(nodes.Getattr):
        attr, line = node.attr, node.lineno
        if attr.startswith("_"):
            found.append(f"{file}, line {line}: '{attr}' is not allowed in a template")
        target = node.node
        if isinstance(target, nodes.Name):
            if target.name == "customer" and attr not in CUSTOMER_FIELDS:
                found.append(
                    f"{file}, line {line}: customer has no field '{attr}' "
                    f"(fields: {', '.join(sorted(CUSTOMER_FIELDS))})"
                )
            if target.name == "step" and attr not in STEP_FIELDS:
                found.append(f"{file}, line {line}: step has no field '{attr}'")
            if target.name == "segments" and schemes is not None and attr not in schemes:
                found.append(f"{file}, line {line}: no segment scheme '{attr}' in livebase.yaml")
    return found


def check_templates(
    workspace: Any,
    templates: Iterable[str],
    *,
    segment_schemes: Iterable[str] | None = None,
) -> list[str]:
    """Check every file of the named templates; returns the files checked.

    ``workspace`` is a :class:`~livebase.workspace.Workspace` (its segment schemes are checked
    too) or the folder holding ``templates/``.

    Raises :class:`TemplateError` listing every problem: a missing folder, a syntax error, an
    unknown name or field, an underscore attribute. ``playbook check`` calls it with the
    templates its playbooks name (``segment_schemes``: the schemes of livebase.yaml).

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "templates" / "hello").mkdir(parents=True)
    >>> _ = (root / "templates" / "hello" / "ru.j2").write_text("Привет, {{ customer.nmae }}")
    >>> check_templates(root, ["hello"])
    Traceback (most recent call last):
    livebase.errors.TemplateError: template problems:
      hello/ru.j2, line 1: customer has no field 'nmae' (fields: attributes, email, first_name, id, language, name, phone, timezone)
    """
    root = workspace if isinstance(workspace, Path) else Path(workspace.root)
    config = None if isinstance(workspace, Path) else getattr(workspace, "config", None)
    if segment_schemes is None and config is not None:
        segment_schemes = list(config.segments.schemes)
    env = _environment(root, autoescape=False)
    problems: list[str] = []
    checked: list[str] = []
    for name in dict.fromkeys(templates):
        folder = root / TEMPLATES_DIR / name
        files = sorted(folder.glob("*.j2")) if folder.is_dir() else []
        if not files:
            problems.append(f"{TEMPLATES_DIR}/{name}/: no template files (*.j2)")
            continue
        for path in files:
            rel = f"{name}/{path.name}"
            checked.append(rel)
            problems += _problems(path.read_text(encoding="utf-8"), rel, env, segment_schemes)
    if problems:
        raise TemplateError("template problems:\n  " + "\n  ".join(problems))
    return checked
