"""``livebase playbook readout``, ``livebase programme`` and ``livebase users``: thin commands
over ``livebase.measure.playbook_workflow`` and ``livebase.ops.users``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from livebase.cli._common import OutputFormat, console, date_option, print_json, workspace

if TYPE_CHECKING:
    from livebase.measure.playbook_readout import PlaybookReadout

__all__ = ["register"]

_FMT = typer.Option("--format", "-f", help="table or json")


def _num(value: Any, places: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:+,.{places}f}".replace(",", " ")


def _ci(low: Any, high: Any, places: int = 0) -> str:
    return f"[{_num(low, places)}, {_num(high, places)}]"


def _print_readout(r: PlaybookReadout, currency: str) -> None:
    if r.reason is not None:
        console.print(
            f"[bold]{r.playbook}[/]: cannot be read yet — [yellow]{r.reason}[/]: {r.message} "
            f"(entrants: {dict(r.entrants)}, windows still open: {r.open_windows})"
        )
        return
    assert r.readout is not None
    arms = Table(title=f"{r.playbook}: {r.window_days}-day window, holdout {r.holdout_share:.0%}")
    for col in ("arm", "customers", "conversion", "revenue per customer"):
        arms.add_column(col, justify="right" if col != "arm" else "left")
    for a in r.readout.arms:
        arms.add_row(
            a.arm,
            f"{a.n:,}".replace(",", " "),
            f"{(a.conversion_rate or 0):.2%}",
            f"{(a.revenue_per_customer or 0):,.0f} {currency}".replace(",", " "),
        )
    console.print(arms)
    console.print(
        f"incremental conversions {_num(r.incremental_conversions, 1)} "
        f"{_ci(r.incremental_conversions_low, r.incremental_conversions_high, 1)}; "
        f"incremental revenue {_num(r.incremental_revenue)} "
        f"{_ci(r.incremental_revenue_low, r.incremental_revenue_high)} {currency}; "
        f"cost {r.cost:,.0f} {currency}; ROI {_num((r.roi or 0) * 100)} % "
        f"{_ci(None if r.roi_low is None else r.roi_low * 100, None if r.roi_high is None else r.roi_high * 100)}; "
        f"cost per incremental conversion {_num(r.cost_per_incremental_conversion)} {currency}".replace(
            ",", " "
        )
    )
    srm = r.readout.srm
    if srm is not None:
        console.print(
            f"sample ratio: {'[red]MISMATCH[/] ' if srm.mismatch else 'ok '}{srm.message}"
        )
    if r.stratified is not None and len(r.stratified.strata) > 1:
        occ = Table(title="per occurrence (conversion) and pooled, stratified")
        for col in ("occurrence", "treated", "held out", "lift", "interval"):
            occ.add_column(col)
        for c in r.stratified.strata:
            if c.outcome == "conversion":
                occ.add_row(
                    str(c.segment), str(c.n_treatment), str(c.n_control),
                    f"{c.lift:+.2%}", f"[{c.ci_low:+.2%}, {c.ci_high:+.2%}]",
                )  # fmt: skip
        for p in r.stratified.pooled:
            if p.outcome == "conversion":
                occ.add_row(
                    "pooled", str(p.n_treatment), str(p.n_control),
                    f"{p.lift:+.2%}", f"[{p.ci_low:+.2%}, {p.ci_high:+.2%}]",
                )  # fmt: skip
        console.print(occ)
    segs = [s for s in r.readout.segments if s.outcome == "conversion"]
    if segs:
        t = Table(
            title=f"per segment ({r.readout.segment_column}), {r.readout.correction}-corrected"
        )
        for col in ("segment", "customers", "lift", "interval", "adj. p"):
            t.add_column(col)
        for s in segs:
            t.add_row(
                str(s.segment), str(s.n_treatment + s.n_control), f"{s.lift:+.2%}",
                f"[{s.ci_low:+.2%}, {s.ci_high:+.2%}]",
                "—" if s.p_value_adjusted is None else f"{s.p_value_adjusted:.3f}",
            )  # fmt: skip
        console.print(t)
    if r.steps:
        t = Table(title="paid steps against their own holdout (escalation)")
        for col in ("step", "treated", "held out", "cost", "incr. conversions", "per 1 000",
                    "break-even", "recommendation"):  # fmt: skip
            t.add_column(col)
        for st in r.steps:
            t.add_row(
                f"{st.step} ({st.channel})", str(st.n_treatment), str(st.n_holdout),
                f"{st.cost:,.0f}".replace(",", " "),
                f"{_num(st.incremental_conversions, 1)} "
                f"{_ci(st.incremental_conversions_low, st.incremental_conversions_high, 1)}",
                f"{_num(st.conversions_per_1000, 2)}",
                _num(st.break_even_conversions, 1),
                f"{st.recommendation or st.reason}: {st.why}",
            )  # fmt: skip
        console.print(t)


def register(app: typer.Typer) -> None:
    existing = [g for g in app.registered_groups if g.name == "playbook"]
    if existing and existing[0].typer_instance is not None:
        playbook_app = existing[0].typer_instance
    else:
        playbook_app = typer.Typer(help="Playbooks: readouts against their holdouts.")
        app.add_typer(playbook_app, name="playbook")

    @playbook_app.command("readout")
    def readout(
        name: Annotated[str, typer.Argument(help="The playbook's name (its file's 'name').")],
        as_of: Annotated[
            datetime | None,
            date_option(
                "--as-of", "Read out as of the end of this day (default: the latest paid day)."
            ),
        ] = None,
        output: Annotated[OutputFormat, _FMT] = "table",
        chart: Annotated[
            Path | None, typer.Option("--chart", help="Write the lifts with intervals as a PNG.")
        ] = None,
    ) -> None:
        """What a playbook added against its holdout, with intervals, cost and ROI.

        Per arm conversion and revenue; incremental conversions and revenue with intervals
        (per occurrence and pooled); per segment (family-wise corrected); SRM against the
        stored plan; cost per incremental conversion; each paid step against its own holdout.

        Example: livebase playbook readout winback-60 --format json
        """
        from livebase.errors import LivebaseError
        from livebase.features.paid_days import latest_paid_day
        from livebase.measure.playbook_workflow import (
            end_of_day,
            readout_chart_png,
            workspace_readout,
        )

        ws = workspace()
        with ws.open_store(read_only=True) as store:
            day = as_of.date() if as_of else latest_paid_day(store)
            result = workspace_readout(
                store, ws.root, name, as_of=end_of_day(day), settings=_learn(ws)
            )
        if chart is not None:
            if chart.suffix.lower() != ".png":
                raise LivebaseError(f"--chart {chart}: only .png charts are written; name it .png")
            chart.write_bytes(readout_chart_png(result))
        if output == "json":
            print_json(result.to_dict())
        else:
            _print_readout(result, ws.config.currency)

    @app.command("programme")
    def programme(
        as_of: Annotated[
            datetime | None,
            date_option(
                "--as-of", "Read out as of the end of this day (default: the latest paid day)."
            ),
        ] = None,
        output: Annotated[OutputFormat, _FMT] = "table",
    ) -> None:
        """What the whole programme added against the global holdout, per month.

        Example: livebase programme --format json
        """
        from livebase.features.paid_days import latest_paid_day
        from livebase.measure.playbook_workflow import end_of_day, programme_readout

        ws = workspace()
        with ws.open_store(read_only=True) as store:
            day = as_of.date() if as_of else latest_paid_day(store)
            share = float(getattr(ws.config.policy, "global_holdout", 0.0) or 0.0)
            result = programme_readout(
                store, as_of=end_of_day(day), share=share, settings=_learn(ws)
            )
        if output == "json":
            print_json(result.to_dict())
            return
        t = Table(title=f"programme against the global holdout ({share:.0%})")
        for col in ("month", "customers", "held out", "incr. conversions", "incr. revenue"):
            t.add_column(col)
        for m in [*result.months, *([result.total] if result.total else [])]:
            t.add_row(
                m.month + (" (partial)" if m.partial else ""), str(m.n_programme),
                str(m.n_holdout),
                m.reason or f"{_num(m.incremental_conversions, 1)} {_ci(m.incremental_conversions_low, m.incremental_conversions_high, 1)}",
                "" if m.reason else f"{_num(m.incremental_revenue)} {_ci(m.incremental_revenue_low, m.incremental_revenue_high)}",
            )  # fmt: skip
        console.print(t)

    users_app = typer.Typer(help="Dashboard users: owner, marketer, analyst.")
    app.add_typer(users_app, name="users")

    @users_app.command("add")
    def users_add(
        username: Annotated[str, typer.Argument(help="The user's sign-in name.")],
        role: Annotated[str, typer.Option("--role", help="owner, marketer or analyst")],
        language: Annotated[
            str | None, typer.Option("--language", help="ru or en (default: the workspace's)")
        ] = None,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from standard input.")
        ] = False,
    ) -> None:
        """Create a dashboard user, or reset their password and role.

        The password is asked twice without echo (or read from stdin) and stored as an
        argon2id hash.

        Example: livebase users add anna --role marketer
        """
        from livebase.ops.users import add_user

        ws = workspace()
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        ops = ws.open_ops()
        try:
            user = add_user(ops, username, password, role, now=datetime.now(UTC), language=language)
        finally:
            ops.close()
        console.print(f"user [bold]{user.username}[/] ({user.role}) can sign in at "
                      f"{ws.config.service.base_url}/dashboard")  # fmt: skip

    @users_app.command("list")
    def users_list() -> None:
        """The dashboard's users and their roles."""
        from livebase.ops.users import list_users

        ws = workspace()
        ops = ws.open_ops()
        try:
            for u in list_users(ops):
                console.print(f"{u.username}\t{u.role}\t{u.language or ''}")
        finally:
            ops.close()


def _learn(ws: Any) -> Any:
    return ws.config.learn
