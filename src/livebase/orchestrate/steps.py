"""The SQL of one pass over due steps: conditions, step holdouts, stop rules, contact,
suppression and consent, as one relation (``lb_pb_dec``) with an ``outcome`` per due step.

Outcomes: ``send`` (goes on to quiet hours and caps), ``held_out`` (per-step holdout), or
``skip:<reason>`` with the stable reasons ``condition:<kind>``, ``stop_rule``,
``no_contact``, ``suppressed:<reason>``, ``no_consent``. A skipped step does not end the
cascade: the next step comes after its own delay.

>>> contact_sql({"email": "email", "push": None})
"CASE d.channel WHEN 'email' THEN fx.email ELSE d.customer_id END"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from livebase.channels.settings import ChannelSettings
from livebase.features import sql_string
from livebase.measure.assignment import assignment_sql
from livebase.orchestrate.entry import ts_sql
from livebase.orchestrate.playbook import Playbook

__all__ = ["CONDITION_KINDS", "contact_fields", "contact_sql", "decisions_sql", "frame_flags_sql"]

CONDITION_KINDS = ("not_opened", "not_clicked", "no_reaction", "no_purchase", "no_event")
_BY_NAME = {"email": "email", "sms": "phone", "telegram": "telegram_chat_id"}


def contact_fields(channels: Mapping[str, ChannelSettings]) -> dict[str, str | None]:
    """Channel → the contact it needs (email, phone, an attribute) or None (the id suffices)."""
    from livebase.orchestrate.send_check import CONTACT_FIELDS

    out: dict[str, str | None] = {}
    for name, channel in channels.items():
        if channel.type is not None:
            out[name] = CONTACT_FIELDS.get(channel.type)
        else:
            out[name] = _BY_NAME.get(name)
    return out


def contact_sql(fields: Mapping[str, str | None]) -> str:
    """The address of the due step's channel for its customer (NULL when missing)."""
    whens = []
    for channel, field in sorted(fields.items()):
        if field is None:
            continue
        if field in ("email", "phone"):
            expr = f"fx.{field}"
        else:
            expr = f"json_extract_string(fx.attributes, {sql_string('$.' + field)})"
        whens.append(f"WHEN {sql_string(channel)} THEN {expr}")
    if not whens:
        return "d.customer_id"
    return f"CASE d.channel {' '.join(whens)} ELSE d.customer_id END"


def _address_hash_sql(expr: str) -> str:
    """SQL of ``send_check.address_hash``: e-mail lower-cased, phone by its digits."""
    low = f"lower(trim({expr}))"
    digits = f"regexp_replace({low}, '[^0-9]', '', 'g')"
    return (
        f"sha256(CASE WHEN contains({low}, '@') THEN {low} "
        f"WHEN length({digits}) >= 7 THEN {digits} ELSE {low} END)"
    )


def frame_flags_sql(
    playbooks: Sequence[Playbook],
    stop_rules: Mapping[str, list[str]],
    segment_columns: Sequence[str],
    frame: str,
) -> str:
    """Per customer: ``stop_<i>`` (playbook i's stop rules hold) and the segment columns."""
    cols = ["customer_id", "email", "phone", "attributes", "tz", *segment_columns]
    for i, pb in enumerate(playbooks):
        rules = stop_rules.get(pb.name, [])
        expr = " OR ".join(f"(({r}) IS TRUE)" for r in rules) or "FALSE"
        cols.append(f"({expr}) AS stop_{i}")
    return f"SELECT {', '.join(cols)} FROM {frame}"


def _step_arm_sql(playbooks: Sequence[Playbook]) -> str:
    whens = []
    for pb in playbooks:
        for idx, step in enumerate(pb.steps):
            if step.holdout > 0 and pb.purpose == "marketing":
                arm = assignment_sql(
                    "d.customer_id",
                    f"{pb.holdout_salt}:step:{step.id}",
                    {"treatment": 1 - step.holdout, "holdout": step.holdout},
                )
                whens.append(
                    f"WHEN d.playbook = {sql_string(pb.name)} AND d.idx = {idx} THEN {arm}"
                )
    return f"CASE {' '.join(whens)} ELSE 'treatment' END" if whens else "'treatment'"


def _variant_sql(playbooks: Sequence[Playbook], what: str) -> str:
    whens = []
    for pb in playbooks:
        for idx, step in enumerate(pb.steps):
            if step.variants is None:
                continue
            column = f"fx.{step.variants.scheme}_segment"
            for segment, case in step.variants.cases.items():
                value = sql_string(segment) if what == "variant" else None
                if what != "variant":
                    if what not in case:
                        continue
                    value = sql_string(case[what])
                whens.append(
                    f"WHEN d.playbook = {sql_string(pb.name)} AND d.idx = {idx} "
                    f"AND {column} = {sql_string(segment)} THEN {value}"
                )
    default = "NULL" if what == "variant" else f"d.{what}"
    return f"CASE {' '.join(whens)} ELSE {default} END" if whens else default


def _stop_sql(playbooks: Sequence[Playbook]) -> str:
    whens = [f"WHEN {sql_string(pb.name)} THEN fx.stop_{i}" for i, pb in enumerate(playbooks)]
    return f"CASE d.playbook {' '.join(whens)} ELSE FALSE END"


def decisions_sql(
    playbooks: Sequence[Playbook],
    as_of: datetime,
    *,
    work: str,
    steps: str,
    conditions: str,
    ledger: str,
    consents: str,
    suppressions: str,
    flags: str,
    contact: str,
    require_consent: bool,
    by_address: bool = True,
    reactions_since: datetime | None = None,
) -> str:
    """The decision of every due step of ``work`` (journeys in treatment, due by ``as_of``).

    ``flags`` is a SELECT over the frame (``frame_flags_sql``): only the rows of the customers
    with a due step are computed. Suppressions match by customer or by address hash, each an
    equi-join (the first reason in sort order wins); ``by_address`` false (no suppression
    has an address hash) spares hashing every due step's address. ``reactions_since`` (the
    earliest entry of a journey that can be due) lets the reactions, orders and events the
    conditions look at be read from that moment on only: a reaction to a step of a journey,
    and a purchase or event that fails a condition, come after the journey's entry.
    """
    t = ts_sql(as_of)
    since = "" if reactions_since is None else ts_sql(reactions_since)
    reacted_since = f" AND l.ts >= {since}" if since else ""
    paid_since = f" AND o.paid_at > {since}" if since else ""
    happened_since = f" AND e.ts > {since}" if since else ""
    return f"""
    WITH d AS (
        SELECT w.customer_id, w.playbook, w.occurrence, w.entered_at, w.next_due_at, w.idx,
               s.step, s.channel, s.template, s.offer, s.purpose, s.priority, s.on_capped,
               s.on_conflict,
               s.cost, s.n_steps, s.next_after,
               w.customer_id || '|' || w.playbook || '|' || w.occurrence || '|' || s.step AS key
        FROM {work} w JOIN {steps} s ON s.playbook = w.playbook AND s.idx = w.idx
        WHERE w.state = 'active' AND w.arm = 'treatment' AND w.next_due_at <= {t}
    ),
    cd AS (
        SELECT d.key, d.customer_id, d.playbook, d.occurrence, d.entered_at, c.kind, c.ref
        FROM d JOIN {conditions} c ON c.playbook = d.playbook AND c.idx = d.idx
    ),
    cf AS (
        SELECT key, min(kind) AS kind FROM (
            SELECT cd.key, cd.kind FROM cd JOIN {ledger} l
              ON l.message_key = cd.customer_id || '|' || cd.playbook || '|'
                                 || cd.occurrence || '|' || cd.ref
            WHERE l.ts <= {t}{reacted_since} AND l.type IN ('opened', 'clicked')
              AND ((l.type = 'opened' AND cd.kind IN ('not_opened', 'no_reaction'))
                OR (l.type = 'clicked' AND cd.kind IN ('not_clicked', 'no_reaction')))
            UNION ALL
            SELECT cd.key, cd.kind FROM cd JOIN orders o ON o.customer_id = cd.customer_id
            WHERE cd.kind = 'no_purchase' AND o.paid_amount > 0
              AND o.paid_at > cd.entered_at AND o.paid_at <= {t}{paid_since}
            UNION ALL
            SELECT cd.key, cd.kind FROM cd JOIN events e
              ON e.customer_id = cd.customer_id AND e.name = cd.ref
            WHERE cd.kind = 'no_event' AND e.ts > cd.entered_at AND e.ts <= {t}{happened_since}
        ) GROUP BY key
    ),
    cons AS (
        SELECT d.key, arg_max(c.status, CAST(epoch_us(c.ts) AS HUGEINT) * 1000000000 + c.id)
            AS status
        FROM d JOIN {consents} c ON c.customer_id = d.customer_id
         AND c.channel IN (d.channel, 'any') AND c.purpose = 'marketing' AND c.ts <= {t}
        GROUP BY d.key
    ),
    x AS (
        SELECT d.*, cf.kind AS cond_fail, cons.status AS consent,
               {_step_arm_sql(playbooks)} AS step_arm,
               {_stop_sql(playbooks)} AS stopped,
               {contact} AS contact,
               {_variant_sql(playbooks, "template")} AS v_template,
               {_variant_sql(playbooks, "offer")} AS v_offer,
               {_variant_sql(playbooks, "variant")} AS variant,
               coalesce(fx.tz, '') AS tz
        FROM d LEFT JOIN cf USING (key) LEFT JOIN cons USING (key)
        LEFT JOIN ({flags} WHERE customer_id IN (SELECT customer_id FROM d)) fx
          ON fx.customer_id = d.customer_id
    ),
    sup AS (
        SELECT customer_id, address_hash, channel, reason FROM {suppressions}
        WHERE expires_at IS NULL OR expires_at > {t}
    ),
    by_id AS (
        SELECT x.key, min(s.reason) AS reason FROM x JOIN sup s
          ON s.customer_id = x.customer_id AND s.channel IN (x.channel, 'any')
        GROUP BY x.key
    ),
    by_address AS (
        SELECT x.key, min(s.reason) AS reason FROM x JOIN sup s
          ON s.address_hash = {_address_hash_sql("x.contact") if by_address else "NULL"}
         AND s.channel IN (x.channel, 'any')
        GROUP BY x.key
    ),
    y AS (
        SELECT x.*, CASE WHEN i.reason IS NULL THEN a.reason WHEN a.reason IS NULL THEN i.reason
                         ELSE least(i.reason, a.reason) END AS suppressed
        FROM x LEFT JOIN by_id i USING (key) LEFT JOIN by_address a USING (key)
    )
    SELECT * REPLACE (v_template AS template, v_offer AS offer),
        CASE WHEN cond_fail IS NOT NULL THEN 'skip:condition:' || cond_fail
             WHEN step_arm = 'holdout' THEN 'held_out'
             WHEN purpose = 'marketing' AND stopped THEN 'skip:stop_rule'
             WHEN contact IS NULL OR contact = '' THEN 'skip:no_contact'
             WHEN suppressed IS NOT NULL THEN 'skip:suppressed:' || suppressed
             WHEN purpose = 'marketing' AND {str(require_consent).upper()}
                  AND coalesce(consent, '') <> 'granted' THEN 'skip:no_consent'
             ELSE 'send' END AS outcome
    FROM y"""
