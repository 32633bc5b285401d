"""The engine's ``invest`` subcommands: engine, status, halt, resume, pause, flatten.

Registered by :func:`add_engine_commands`. This module imports only argparse at
import time (the CLI must start fast); each handler imports what it needs.
Control commands talk to the running engine over its socket, as a trader.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from invest.runtime.paths import Paths

__all__ = ["add_engine_arguments", "add_engine_commands", "engine_command", "status_command"]


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``invest engine`` (and ``python -m invest.runtime.engine``)."""
    p.add_argument(
        "--replay", metavar="DAY", help="run on a replay clock from DAY (tests and demos)"
    )
    p.add_argument(
        "--tick", type=float, default=0.2, help="real seconds per replay step (default 0.2)"
    )
    p.add_argument("--replay-until", metavar="DAY", help="the replay clock stops after DAY")
    p.add_argument(
        "--monitor-interval", type=float, metavar="S", help="seconds between position monitor runs"
    )
    p.add_argument("--json-logs", action="store_true", help="log JSON lines instead of key=value")
    p.add_argument(
        "--no-socket", action="store_true", help="do not listen on INVEST_HOME/engine.sock"
    )


def engine_command(args: argparse.Namespace, paths: Paths) -> int:
    """``invest engine``: run until SIGTERM or SIGINT."""
    from invest.runtime.config import load_config, parse_day
    from invest.runtime.config.engine import EngineOptions, Replay, engine_options
    from invest.runtime.engine.main import run_engine
    from invest.runtime.logs import engine_log_file, setup_logging

    settings = load_config(paths.config)
    opts = engine_options(settings)
    loop = opts.loop
    if args.replay:
        start = parse_day(args.replay, "--replay")
        assert start is not None
        until = parse_day(args.replay_until, "--replay-until")
        loop = loop.model_copy(
            update={"replay": Replay(start=start, tick_s=args.tick, until=until)}
        )
    if args.monitor_interval:
        loop = loop.model_copy(update={"monitor_interval_s": args.monitor_interval})
    if args.no_socket:
        loop = loop.model_copy(update={"control_socket": False})
    from invest.runtime.notify import build_extensions, build_notifiers, build_telegram

    log = engine_log_file(paths.home)
    setup_logging(log.parent, filename=log.name, json_lines=args.json_logs)
    telegram = build_telegram(settings, paths)  # one bot: alerts and commands
    return run_engine(
        settings,
        paths,
        options=EngineOptions(opts.halt, loop),
        notifiers=build_notifiers(settings, paths, telegram=telegram),
        extensions=build_extensions(settings, paths, telegram=telegram),
        configure_logging=False,
    )


def status_command(args: argparse.Namespace, paths: Paths) -> int:
    """``invest status``: print the status; with --heartbeat-max-age, the health check only.

    The status comes from the running engine when it answers on its socket, else from
    the ledger (read-only). The health check reads only the ledger's heartbeat row.
    """
    if args.heartbeat_max_age is not None:
        from invest.runtime.clock import SystemClock
        from invest.runtime.control.status import check_heartbeat

        ok, line = check_heartbeat(paths.ledger, args.heartbeat_max_age, SystemClock().now())
        print(line, file=sys.stdout if ok else sys.stderr)
        return 0 if ok else 1
    from invest.runtime.control.status import as_json, format_status

    data = _status_from_engine(paths) or _status_from_ledger(paths)
    print(as_json(data) if args.json else format_status(data))
    return 0


def _status_from_engine(paths: Paths) -> dict[str, Any] | None:
    """The running engine's view (its own next cycles, the job in flight), or None."""
    from invest.runtime.control.api import EngineNotRunning, Request
    from invest.runtime.control.socket import SOCKET_NAME, ControlClient

    try:
        reply = ControlClient(paths.home / SOCKET_NAME, timeout=2.0).request(Request("status"))
    except EngineNotRunning:
        return None
    return reply.data if reply.ok else None


def _status_from_ledger(paths: Paths) -> dict[str, Any]:
    """The ledger's view, read-only; next cycles from each cron on the NYSE calendar."""
    from contextlib import closing

    from invest.runtime.clock import SystemClock, nyse
    from invest.runtime.config import load_config
    from invest.runtime.control.status import collect_status
    from invest.runtime.ledger.reads import connect_readonly

    settings = load_config(paths.config) if paths.config.exists() else None
    now = SystemClock().now()
    with closing(connect_readonly(paths.ledger)) as conn:
        return collect_status(conn, settings, now=now, wall_now=now, calendar=nyse)


def _send(paths: Paths, op: str, args: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    from invest.runtime.control.api import TRADER, EngineNotRunning, Request
    from invest.runtime.control.socket import SOCKET_NAME, ControlClient
    from invest.runtime.errors import InvestError
    from invest.runtime.ledger.lock import ENGINE, holder_of

    try:
        reply = ControlClient(paths.home / SOCKET_NAME).request(
            Request(op, args, actor="cli", role=TRADER), timeout=timeout
        )
    except EngineNotRunning as e:
        # These commands never write the ledger themselves; say why the engine did not answer.
        holder = holder_of(paths.ledger)
        if holder is not None and holder.role == ENGINE and holder.socket is False:
            raise InvestError(
                f"{holder.name()} runs without a control socket (--no-socket), so {op} cannot "
                "reach it: restart the engine with its socket, or stop it"
            ) from e
        raise
    if not reply.ok:
        raise InvestError(reply.error)
    return reply.data


def _control(args: argparse.Namespace, paths: Paths) -> int:
    op = args.control_op
    payload: dict[str, Any] = {}
    if getattr(args, "account", None):
        payload["account"] = args.account
    if op == "resume" and getattr(args, "all", False):
        op = "resume_all"
    data = _send(paths, op, payload)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    import os
    import pwd

    from invest.runtime.control.status import format_control

    print(format_control(op, data, pwd.getpwuid(os.getuid()).pw_name))
    return 0


def _flatten(args: argparse.Namespace, paths: Paths) -> int:
    # The control channel confirms a flatten in two steps (a token, then the same op with
    # confirm=<token>); this command takes the second step itself, after the person typed
    # the account name on a terminal, or at once with --yes. Without a terminal there is
    # no one to ask: refuse before anything is sent.
    from invest.runtime.errors import InvestError

    if not args.yes and not sys.stdin.isatty():
        raise InvestError(
            f"flatten {args.account} asks for confirmation on a terminal and there is none: "
            f"pass --yes to flatten {args.account} without asking"
        )
    first = _send(paths, "flatten", {"account": args.account})
    from invest.runtime.control.service import flatten_what

    held = first.get("positions") or []
    what = flatten_what(len(held), int(first.get("option_positions") or 0))
    print(f"flatten {what} of {args.account} and halts it")
    if not args.yes:
        try:
            answer = input(f"type the account name ({args.account}) to confirm: ").strip()
        except EOFError:
            answer = ""
        if answer != args.account:
            print("not confirmed: nothing was sent")
            return 1
    data = _send(paths, "flatten", {"account": args.account, "confirm": first["confirm"]}, 60.0)
    print(json.dumps(data, indent=2, default=str))
    return 0


def add_engine_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Register engine, status, halt, resume, pause and flatten on the ``invest`` parser.

    Each sets ``handler``, a callable ``(args, paths) -> int``.
    """
    p = subparsers.add_parser("engine", help="run the engine: schedules, monitors, control socket")
    add_engine_arguments(p)
    p.set_defaults(handler=engine_command)

    p = subparsers.add_parser(
        "status", help="accounts, halt states, last and next cycles, heartbeat"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--heartbeat-max-age",
        type=float,
        metavar="N",
        help="health check only: exit 1 when the heartbeat is older than N seconds or missing",
    )
    p.set_defaults(handler=status_command)

    p = subparsers.add_parser(
        "halt", help="kill switch: HALT the engine (or one account), cancel open orders"
    )
    p.add_argument("account", nargs="?", help="halt this account only")
    p.add_argument("--json", action="store_true", help="print the engine's answer as JSON")
    p.set_defaults(handler=_control, control_op="halt")
    p = subparsers.add_parser(
        "resume", help="lift the halt and pause of an account (--all: everything)"
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("account", nargs="?")
    who.add_argument(
        "--all", action="store_true", help="lift the engine-wide halt and every account's"
    )
    p.add_argument("--json", action="store_true", help="print the engine's answer as JSON")
    p.set_defaults(handler=_control, control_op="resume")
    p = subparsers.add_parser(
        "pause", help="skip an account's scheduled cycles (its stops still run)"
    )
    p.add_argument("account")
    p.add_argument("--json", action="store_true", help="print the engine's answer as JSON")
    p.set_defaults(handler=_control, control_op="pause")
    p = subparsers.add_parser("flatten", help="sell every position of an account and HALT it")
    p.add_argument("account")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=_flatten)
