"""Flask CLI commands: the catalog, accounts, open data, the statistics rollup, the working-day calendar, events out.

Each command parses its arguments, calls one service function and prints the outcome; the service functions
declare their own write intent and own their transaction."""
import unicodedata
from datetime import date

import click
from flask import Flask
from flask.cli import AppGroup

from service import accounts, calendar_admin, catalog, delivery, opendata, outbox, rollup
from service.errors import ServiceError
from service.timeutil import iso


def _fail(exc: ServiceError):
    lines = [exc.detail] + [m for msgs in (exc.errors or {}).values() for m in msgs]
    raise click.ClickException("\n".join(lines))


def _counts(counts: dict) -> str:
    return "，".join(f"{k} {v}" for k, v in counts.items())


catalog_cli = AppGroup("catalog", help="服务目录：大厅、窗口、事项、评价标签")


@catalog_cli.command("import", help="从 CSV 文件导入（全部成功或全部不写入）")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def catalog_import(path):
    try:
        with open(path, encoding="utf-8") as fh:
            counts = catalog.import_csv(fh.read())
    except ServiceError as exc:
        _fail(exc)
    click.echo("导入完成：" + _counts(counts))


@catalog_cli.command("demo", help="载入示例目录（海州市西城区）")
def catalog_demo():
    click.echo("示例目录已载入：" + _counts(catalog.load_demo()))


accounts_cli = AppGroup("accounts", help="账号与访问令牌")


def _scope(view: dict) -> str:
    return view["hall"] or "全部大厅"


@accounts_cli.command("list", help="列出账号（表格；可按大厅、角色、是否启用筛选）")
@click.option("--hall", default=None, help="所属大厅编码")
@click.option("--role", default=None, type=click.Choice(["staff", "supervisor", "admin"]))
@click.option("--active/--inactive", "active", default=None, help="只列启用 / 已停用的账号")
def accounts_list(hall, role, active):
    rows, cursor = [], None
    try:
        while True:
            page = accounts.list_accounts({"hall": hall, "role": role, "active": active}, cursor=cursor, limit=200)
            rows += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    except ServiceError as exc:
        _fail(exc)
    table = [("ID", "角色", "大厅", "状态", "创建时间", "名称")] + [
        (str(a["id"]), a["role"], _scope(a), "启用" if a["active"] else "已停用", iso(a["created_at"]), a["name"])
        for a in rows]
    widths = [max(_width(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        click.echo("  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=False)) + "  "
                   + row[-1])
    click.echo(f"共 {len(rows)} 个账号")


def _width(text: str) -> int:
    """Columns a terminal gives the text: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@accounts_cli.command("create", help="创建账号并打印一次访问令牌（只保存其哈希）")
@click.option("--role", required=True, type=click.Choice(["staff", "supervisor", "admin"]))
@click.option("--hall", "hall", default=None, help="所属大厅编码（admin 可省略）")
@click.option("--name", required=True)
def accounts_create(role, hall, name):
    try:
        account, token = accounts.create_account(role=role, hall_code=hall, name=name)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"账号 {account.id}（{account.role}，{account.hall_code or '全部大厅'}）已创建。访问令牌（只显示这一次）：")
    click.echo(token)


@accounts_cli.command("deactivate", help="停用账号：其访问令牌立即失效（重复停用无影响）")
@click.argument("account_id", type=click.IntRange(min=1))
def accounts_deactivate(account_id):
    try:
        view = accounts.deactivate(account_id)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"账号 {view['id']}（{view['name']}，{view['role']}，{_scope(view)}）已停用，其访问令牌立即失效。")


@accounts_cli.command("rotate", help="更换访问令牌：旧令牌立即失效，新令牌只打印这一次")
@click.argument("account_id", type=click.IntRange(min=1))
def accounts_rotate(account_id):
    try:
        view, token = accounts.rotate(account_id)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"账号 {view['id']}（{view['name']}，{view['role']}，{_scope(view)}）的旧令牌已失效。"
               "新访问令牌（只显示这一次）：")
    click.echo(token)


opendata_cli = AppGroup("opendata", help="评价结果公开：匿名化的开放数据文件")


@opendata_cli.command("export", help="导出 SQLite 文件（Datasette 可直接打开），旁附 metadata.json")
@click.argument("out", type=click.Path(dir_okay=False))
def opendata_export(out):
    click.echo(f"已导出 {out}：" + _counts(opendata.export(out)))


stats_cli = AppGroup("stats", help="统计汇总")


@stats_cli.command("rollup", help="刷新按日汇总表（定时任务也会执行）")
def stats_rollup():
    click.echo(f"汇总已更新：{rollup.refresh()}")


calendar_cli = AppGroup("calendar", help="工作日历：法定节假日与调休上班日")


@calendar_cli.command("import", help="从 chinesecalendar 导入全部已公布年份（不覆盖管理员设置的日期）")
def calendar_import():
    result = calendar_admin.import_package()
    click.echo(f"已导入 {result['first_year']}–{result['last_year']} 年的 {result['days']} 个调整日；"
               f"重新计算期限的事项 {result['deadlines_changed']} 个")


@calendar_cli.command("set", help="设置某天为工作日或休息日，例如 flask calendar set 2027-02-08 --holiday --name 春节")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--workday/--holiday", "is_workday", required=True, help="上班（调休）或放假")
@click.option("--name", default=None, help="节日名称")
def calendar_set(day, is_workday, name):
    try:
        result = calendar_admin.set_day(date(day.year, day.month, day.day), is_workday, name)
    except ServiceError as exc:
        _fail(exc)
    kind = "工作日" if is_workday else "休息日"
    click.echo(f"{result['day']} 已设为{kind}；重新计算期限的事项 {result['deadlines_changed']} 个")


@calendar_cli.command("publish", help="宣布某年全年日历已录入完毕（先用 calendar set 录入节假日与调休），例如 flask calendar publish 2027")
@click.argument("year", type=int)
def calendar_publish(year):
    try:
        result = calendar_admin.publish_year(year)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"{result['year']} 年日历已公布；重新计算期限的事项 {result['deadlines_changed']} 个")




subscriptions_cli = AppGroup("subscriptions", help="事件推送订阅：省好差评平台与部门系统")


@subscriptions_cli.command("add", help="新增订阅并打印一次签名密钥")
@click.option("--name", required=True)
@click.option("--url", required=True, help="接收地址（http:// 或 https://）")
@click.option("--events", "events", required=True, help=f"逗号分隔的事件类型：{','.join(outbox.TYPES)}")
@click.option("--format", "fmt", type=click.Choice(list(delivery.FORMATS)), default="webhook")
def subscriptions_add(name, url, events, fmt):
    try:
        sub = delivery.create_subscription({"name": name, "url": url, "format": fmt,
                                            "events": [e.strip() for e in events.split(",") if e.strip()]})
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"订阅 {sub['id']}（{sub['name']}，{sub['format']}）已创建。签名密钥（只显示这一次）：")
    click.echo(sub["secret"])


@subscriptions_cli.command("list", help="列出订阅")
def subscriptions_list():
    for sub in delivery.list_subscriptions()["items"]:
        state = "启用" if sub["active"] else f"停用（{sub['disabled_reason']}）"
        click.echo(f"{sub['id']}\t{sub['name']}\t{sub['format']}\t{state}\t{sub['url']}\t{','.join(sub['events'])}")


@subscriptions_cli.command("disable", help="停用一个订阅（不再投递，可用 PATCH 重新启用）")
@click.argument("sub_id", type=int)
def subscriptions_disable(sub_id):
    try:
        delivery.update_subscription(sub_id, {"active": False})
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"订阅 {sub_id} 已停用")


deliveries_cli = AppGroup("deliveries", help="事件投递记录")


@deliveries_cli.command("list", help="列出投递记录（最新在前）")
@click.option("--subscription", type=int, default=None)
@click.option("--status", type=click.Choice(list(delivery.STATUSES)), default=None)
@click.option("--limit", type=click.IntRange(1, 200), default=50)
def deliveries_list(subscription, status, limit):
    page = delivery.list_deliveries({"subscription": subscription, "status": status}, cursor=None, limit=limit)
    for d in page["items"]:
        click.echo(f"{d['id']}\t订阅 {d['subscription']}\t事件 {d['event_id']} {d['event_type']}\t{d['status']}\t"
                   f"尝试 {d['attempts']} 次\t状态码 {d['last_status_code']}\t下次 {d['next_attempt_at'] or '-'}")


@deliveries_cli.command("retry", help="把失败或已放弃的投递放回队列")
@click.argument("delivery_id", type=int)
def deliveries_retry(delivery_id):
    try:
        delivery.retry(delivery_id)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"投递 {delivery_id} 已重新排队")


GROUPS = (catalog_cli, accounts_cli, opendata_cli, stats_cli, calendar_cli, subscriptions_cli, deliveries_cli)


def register(app: Flask) -> None:
    for group in GROUPS:
        app.cli.add_command(group)
