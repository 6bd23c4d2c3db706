"""Writing commands: each validates its options into a command model and records it."""

from __future__ import annotations

import json
from typing import Any

import click

from cli.main import Context, cli
from ledger.commands import (
    AddProjectCommand,
    AllocateCommand,
    DeallocateCommand,
    ForwardCommand,
    IssueCommand,
    PayCommand,
    ProgressCommand,
    RecoverCommand,
    RenameProjectCommand,
    ReverseCommand,
    SetUnitCommand,
    build,
)
from ledger.errors import InputError
from ledger.fund_source import FundSource
from ledger.project import Category, PayeeKind
from ledger.unit import Level

pass_ctx = click.make_pass_decorator(Context)

SOURCES = FundSource.values()  # kept for callers that imported it


def done(ctx: Context, ident: str) -> None:
    if ctx.fmt == "json":
        click.echo(json.dumps({"id": ident}, ensure_ascii=False))
    else:
        click.echo(ident)


def _fields(ctx: Context, **kw: Any) -> dict[str, Any]:
    """Drop options the user left out, so the command model's defaults apply."""
    return {"actor": ctx.actor, **{k: v for k, v in kw.items() if v is not None}}


@cli.command()
@pass_ctx
def init(ctx: Context) -> None:
    """Create the store (idempotent).

    \b
    Example:  budget-ledger --db ledger.db init
    """
    from projections.updater import Projector

    app = ctx.app
    Projector(app).ensure_schema()
    click.echo(f"store ready: {app.config.url}")


@cli.command()
@click.option("--to", "unit", required=True, help="Unit that holds the indicator.")
@click.option("--amount", required=True, help="e.g. 180000万, 1408万元, 14080000元, 14080000.50")
@click.option("--doc", required=True, help="Document number (文号).")
@click.option("--date", "effective_date", required=True, help="Effective date YYYY-MM-DD.")
@click.option("--year", required=True, type=int, help="Fiscal year.")
@click.option("--task", required=True, help="Fund task, e.g. 以工代赈任务.")
@click.option("--source", required=True, type=click.Choice(FundSource.values()),
              help="Where the money comes from (资金来源).")
@click.option("--issuer", default=None, help="Issuing unit (outside the ledger).")
@click.option("--subject", default=None, help="Classification subject, e.g. 2130504.")
@click.option("--tracking", is_flag=True, default=False, help="Tracking flag (追踪).")
@click.option("--direct", is_flag=True, default=False, help="Direct-funds flag (直达).")
@click.option("--advance", is_flag=True, default=False, help="Advance issuance (提前下达).")
@click.option("--id", "indicator_id", default=None, help="Indicator id (default: generated).")
@pass_ctx
def issue(ctx: Context, **kw: Any) -> None:
    """Record a root indicator (下达) held by --to.

    \b
    Example:
      budget-ledger issue --to 西藏自治区 --amount 5000万 --doc 藏财农〔2024〕1号 \\
        --date 2024-12-23 --year 2025 --task 以工代赈任务 --source provincial --tracking
    """
    done(ctx, ctx.app.issue(build(IssueCommand, **_fields(ctx, **kw))))


@cli.command()
@click.option("--parent", "parent_id", required=True, help="Indicator passed on.")
@click.option("--to", "unit", required=True, help="Receiving unit.")
@click.option("--amount", required=True)
@click.option("--doc", required=True)
@click.option("--date", "effective_date", required=True)
@click.option("--id", "child_id", default=None, help="Child indicator id (default: generated).")
@click.option("--subject", default=None,
              help="Refine the functional subject for the child to a 项级 subject below the "
                   "parent's (e.g. 2130504 under 21305); default: the parent's.")
@click.option("--tracking/--no-tracking", default=None,
              help="Assert the flag; refused (exit 3) if it differs from the parent's.")
@pass_ctx
def forward(ctx: Context, **kw: Any) -> None:
    """Forward (转下达) part of an indicator to a lower unit; the child inherits its terms.

    \b
    Example:  budget-ledger forward --parent I-1 --to 城关区 --amount 922万 --doc 拉财〔2025〕3号 --date 2025-01-02
    """
    cmd = build(ForwardCommand, **_fields(ctx, **kw))
    holder = ctx.app.get_indicator(cmd.parent_id).unit  # an unknown parent: exit 3, as before
    if cmd.unit == holder:  # as the importer says of a row whose from and to are the same
        raise InputError(f"--to: {cmd.parent_id} is already held by {holder}; a unit cannot "
                         "forward to itself", field="unit")
    done(ctx, ctx.app.forward(cmd))


@cli.group()
def project() -> None:
    """Projects: add, rename."""


@project.command("add")
@click.option("--id", "project_id", required=True)
@click.option("--unit", required=True, help="Implementing unit (the county that funds it).")
@click.option("--name", required=True)
@click.option("--category", required=True, type=click.Choice([c.value for c in Category]))
@click.option("--date", "effective_date", required=True)
@click.option("--doc", default=None)
@pass_ctx
def project_add(ctx: Context, **kw: Any) -> None:
    """Register a project.

    \b
    Example:  budget-ledger project add --id CG-2025-01 --unit 城关区 --name 蔬菜大棚 --category 产业发展 --date 2025-01-10
    """
    done(ctx, ctx.app.add_project(build(AddProjectCommand, **_fields(ctx, **kw))))


@project.command("rename")
@click.option("--id", "project_id", required=True)
@click.option("--name", "new_name", required=True)
@click.option("--doc", required=True, help="The approving document (required).")
@click.option("--date", "effective_date", required=True)
@click.option("--reason", default=None)
@pass_ctx
def project_rename(ctx: Context, **kw: Any) -> None:
    """Change a project's name — only with the approving document; audit flags every rename.

    \b
    Example:  budget-ledger project rename --id CG-2025-01 --name 温室大棚 --doc 城政〔2025〕8号 --date 2025-03-01
    """
    done(ctx, ctx.app.rename_project(build(RenameProjectCommand, **_fields(ctx, **kw))))


@cli.command()
@click.option("--indicator", "indicator_id", required=True)
@click.option("--project", "project_id", required=True)
@click.option("--amount", required=True)
@click.option("--date", "effective_date", required=True)
@click.option("--doc", default=None)
@click.option("--subject", default=None,
              help="Refine the line's functional subject to a 项级 subject below the "
                   "indicator's (e.g. 2130504 under 21305).")
@pass_ctx
def allocate(ctx: Context, **kw: Any) -> None:
    """Break down (分解) indicator money to a project: one funding line per indicator.

    \b
    Example:  budget-ledger allocate --indicator I-2 --project CG-2025-01 --amount 300万 --date 2025-01-12 --subject 2130504
    """
    done(ctx, ctx.app.allocate(build(AllocateCommand, **_fields(ctx, **kw))))


@cli.command()
@click.option("--project", "project_id", required=True)
@click.option("--amount", required=True)
@click.option("--date", "effective_date", required=True)
@click.option("--payee", required=True)
@click.option("--indicator", "indicator_id", default=None,
              help="Required when the project has more than one funding line.")
@click.option("--payee-kind", default=None, type=click.Choice([k.value for k in PayeeKind]))
@click.option("--voucher", default=None, help="Voucher number; unique within the project.")
@click.option("--labour", is_flag=True, default=False, help="Labour remuneration (劳务报酬).")
@click.option("--doc", default=None)
@pass_ctx
def pay(ctx: Context, **kw: Any) -> None:
    """Record a payment (支付) to a final payee; prints the payment id.

    \b
    Example:  budget-ledger pay --project CG-2025-01 --amount 120000.00 --date 2025-03-02 --payee 某建设公司 --voucher V001
    """
    done(ctx, ctx.app.pay(build(PayCommand, **_fields(ctx, **kw))))


@cli.command("progress-report")
@click.option("--project", "project_id", required=True)
@click.option("--percent", required=True, help="Physical progress 0–100.")
@click.option("--date", "effective_date", required=True)
@click.option("--doc", default=None)
@pass_ctx
def progress_report(ctx: Context, **kw: Any) -> None:
    """Record a project's physical progress.

    \b
    Example:  budget-ledger progress-report --project CG-2025-01 --percent 40 --date 2025-04-01
    """
    done(ctx, ctx.app.report_progress(build(ProgressCommand, **_fields(ctx, **kw))))


@cli.command()
@click.option("--indicator", "indicator_id", required=True)
@click.option("--amount", required=True)
@click.option("--doc", required=True)
@click.option("--date", "effective_date", required=True)
@click.option("--reason", required=True)
@click.option("--to", "to", type=click.Choice(["parent", "pool"]), default="parent",
              show_default=True,
              help="parent: back to the indicator it came from (a root: to its issuer); pool: "
                   "into the same level's pool (同级统筹), a new indicator of the same unit.")
@click.option("--pool-id", default=None, help="Id of the pool indicator (--to pool; default: generated).")
@pass_ctx
def recover(ctx: Context, **kw: Any) -> None:
    """Take back (收回) unspent money of an indicator: to its parent, or into the same level's
    pool (同级统筹). Either way it stays tracked: the pool is a child indicator with the same
    terms and root, which the unit can allocate again. Prints the indicator recovered from
    (--to pool: the new pool indicator).

    \b
    Example:  budget-ledger recover --indicator I-2 --amount 50万 --doc 拉财〔2025〕9号 --date 2025-06-30 --reason 项目调整
              budget-ledger recover --indicator I-2 --amount 30万 --doc 墨财〔2025〕5号 --date 2025-06-30 --reason 结余统筹 --to pool
    """
    done(ctx, ctx.app.recover(build(RecoverCommand, **_fields(ctx, **kw))))


@cli.command()
@click.option("--indicator", "indicator_id", required=True)
@click.option("--project", "project_id", required=True)
@click.option("--amount", required=True)
@click.option("--date", "effective_date", required=True)
@click.option("--reason", required=True)
@click.option("--doc", default=None)
@pass_ctx
def deallocate(ctx: Context, **kw: Any) -> None:
    """Release part of a project's unpaid funding line back to its indicator.

    \b
    Example:  budget-ledger deallocate --indicator I-2 --project CG-2025-01 --amount 10万 --date 2025-05-01 --reason 结余
    """
    done(ctx, ctx.app.deallocate(build(DeallocateCommand, **_fields(ctx, **kw))))


@cli.command()
@click.argument("payment_id")
@click.option("--date", "effective_date", required=True)
@click.option("--reason", required=True)
@click.option("--doc", default=None)
@pass_ctx
def reverse(ctx: Context, **kw: Any) -> None:
    """Reverse a payment by a compensating entry; the original stays in the log.

    \b
    Example:  budget-ledger reverse CG-2025-01:P1 --date 2025-03-05 --reason 重复支付
    """
    done(ctx, ctx.app.reverse(build(ReverseCommand, **_fields(ctx, **kw))))


@cli.group()
def unit() -> None:
    """Units: administrative level and geographic area."""


@unit.command("set")
@click.argument("unit")
@click.option("--level", required=True, type=click.Choice([lv.value for lv in Level]),
              help="Administrative level (region and province are one level).")
@click.option("--area", default=None,
              help="Geographic parent: the area whose 小计 includes this unit (not who funds it).")
@click.option("--direct-county", is_flag=True, default=False,
              help="资金管理型直管县: funded by the region/province directly, counted in --area.")
@click.option("--date", "effective_date", default=None,
              help="Date of the statement (default: today in China).")
@click.option("--doc", default=None, help="Document that says so, if any.")
@pass_ctx
def unit_set(ctx: Context, **kw: Any) -> None:
    """Declare or correct a unit's administrative level and geographic area (an event).

    The area is where the unit rolls up in `progress --by area` and `report monthly`; who funds
    it is told by the money. Setting what is already recorded records nothing.

    \b
    Example:  budget-ledger unit set 林周县 --level county --area 拉萨市 --direct-county
    """
    from ledger.commands import today

    fields = _fields(ctx, **kw)
    fields.setdefault("effective_date", today())
    done(ctx, ctx.app.set_unit(build(SetUnitCommand, **fields)))
