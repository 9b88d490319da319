"""`flask jobs …`: serve the scheduler, or run one job once."""
import click
from flask import Flask, current_app

from . import DAILY, JOBS
from .scheduler import serve


def register_commands(app: Flask) -> None:
    @app.cli.group("jobs", help="定时任务：整改事项生成、逾期标记、清单销号、默认好评")
    def jobs_cli():
        pass

    @jobs_cli.command("serve", help="启动调度进程（每个部署只有一个在运行，其余待命）")
    @click.option("--interval", type=int, default=None, help="任务间隔秒数（默认 JOBS_INTERVAL_SECONDS）")
    @click.option("--lease-seconds", type=int, default=None, help="租约时长（默认 SCHEDULER_LEASE_SECONDS）")
    @click.option("--heartbeat-seconds", type=int, default=None, help="心跳间隔（默认 SCHEDULER_HEARTBEAT_SECONDS）")
    @click.option("--exit-after", type=float, default=None, help="运行这么多秒后退出（测试与一次性运行）")
    def jobs_serve(interval, lease_seconds, heartbeat_seconds, exit_after):
        cfg = current_app.config
        serve(current_app._get_current_object(), interval=interval or cfg["JOBS_INTERVAL_SECONDS"],
              lease_seconds=lease_seconds or cfg["SCHEDULER_LEASE_SECONDS"],
              heartbeat_seconds=heartbeat_seconds or cfg["SCHEDULER_HEARTBEAT_SECONDS"], exit_after=exit_after)

    @jobs_cli.command("run", help="立即运行一个任务一次")
    @click.argument("name", type=click.Choice(list(JOBS) + list(DAILY)))
    def jobs_run(name):
        run = (JOBS[name] if name in JOBS else DAILY[name][0])(holder="cli")
        if run.status != "ok":
            raise click.ClickException(f"任务 {name} 失败：{run.error}")
        click.echo(f"任务 {name} 完成：{run.counts}")

    @jobs_cli.command("list", help="列出所有任务")
    def jobs_list():
        for name in JOBS:
            click.echo(name)
        for name, (_, (hour, minute)) in DAILY.items():
            click.echo(f"{name}（每天 {hour:02d}:{minute:02d}）")
