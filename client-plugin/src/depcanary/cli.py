"""`depcanary`: consent, status, and this machine's pins outside tox.

depcanary opt-in [--server URL]   make a random machine id and agree to send reports
depcanary opt-out                 stop reporting, forget the id, drop unsent reports
depcanary status                  server, machine id, consent, pins that differ from the base
depcanary env                     `export PIP_CONSTRAINT=...` lines: eval "$(depcanary env)"
depcanary pip ARGS...             python -m pip ARGS with this machine's constraints
depcanary send                    send reports kept from earlier runs
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

from . import http, identity, pins, report, settings

__all__ = ["main"]


def _err(message: str) -> None:
    sys.stderr.write(f"depcanary: {message}\n")


def _resolve(ident: identity.Identity) -> pins.Resolution | None:
    if ident.server is None:
        _err("no server configured: set DEPCANARY_URL or run `depcanary opt-in --server URL`")
        return None
    res = pins.fetch(ident.server, ident.machine, settings.timeout())
    if res.message:
        _err(res.message)
    return res


def cmd_opt_in(args: argparse.Namespace) -> int:
    data = identity.opt_in(args.server)
    ident = identity.resolve()
    print(f"opted in: machine id {data['machine']} (random, saved in {identity.config_path()})")
    if not ident.consent:
        print(f"note: no reports will be sent while {ident.why}")
    if ident.server is None:
        print("note: no server configured yet: set DEPCANARY_URL or run `depcanary opt-in --server URL`")
    return 0


def cmd_opt_out(_: argparse.Namespace) -> int:
    identity.opt_out()
    dropped = report.clear_spool()
    print(f"opted out: machine id forgotten, {dropped} unsent report(s) deleted; no reports will be sent")
    return 0


def cmd_status(_: argparse.Namespace) -> int:
    ident = identity.resolve()
    source = "DEPCANARY_URL" if os.environ.get("DEPCANARY_URL") else identity.config_path()
    print(f"server:     {ident.server or 'none configured'}" + (f" (from {source})" if ident.server else ""))
    shown = ident.machine or ident.saved_machine
    where = "DEPCANARY_MACHINE_ID" if os.environ.get("DEPCANARY_MACHINE_ID") else identity.config_path()
    print(f"machine id: {shown or 'none (made at opt-in)'}" + (f" (from {where})" if shown else ""))
    print(f"consent:    {'yes' if ident.consent else 'no'} ({ident.why})")
    print(f"unsent reports: {len(report.spooled())}")
    if ident.server is None:
        return 0
    if not ident.consent:
        print("pins:       the base constraints (without consent the machine id is not sent)")
        return 0
    assert ident.machine is not None  # noqa: S101 (consent implies an id)
    try:
        entries = pins.fetch_pins(ident.server, ident.machine, settings.timeout())
    except http.ServerProblem as err:
        cached = pins.cached(ident.server, ident.machine)
        if cached is None:
            print(f"pins:       unknown: server unreachable ({err}) and nothing cached")
            return 1
        overrides = pins.describe(cached.overrides)
        print(f"pins:       server unreachable ({err}); as last fetched ({cached.fetched_at}): {overrides}")
        return 0
    differ = [p for p in entries if p.get("version") != p.get("stable")]
    print(f"pins that differ from the base: {len(differ) or 'none'}")
    for pin in entries:
        mark = "*" if pin in differ else " "
        print(
            f"  {mark} {pin.get('library')} {pin.get('version')} (base {pin.get('stable')}): {pin.get('arm')} arm "
            f"of rollout {pin.get('rolloutId')} (stage {pin.get('stage')}, {pin.get('percent')}%)"
        )
    return 0


def cmd_env(_: argparse.Namespace) -> int:
    res = _resolve(identity.resolve())
    if res is None or res.path is None:
        return 1
    value = pins.merged_value(os.environ.get("PIP_CONSTRAINT"), res.path, res.overrides)
    for var in ("PIP_CONSTRAINT", "UV_CONSTRAINT", "TOX_CONSTRAINTS_FILE"):
        print(f"export {var}={shlex.quote(value)}")
    return 0


def cmd_pip(pip_args: list[str]) -> int:
    env = dict(os.environ)
    res = _resolve(identity.resolve())
    if res is not None and res.path is not None:
        env["PIP_CONSTRAINT"] = pins.merged_value(env.get("PIP_CONSTRAINT"), res.path, res.overrides)
    venv = os.environ.get("VIRTUAL_ENV")
    python = Path(venv) / "bin" / "python" if venv else Path(sys.executable)
    if not python.exists():
        python = Path(sys.executable)
    return subprocess.call([str(python), "-m", "pip", *pip_args], env=env)


def cmd_send(_: argparse.Namespace) -> int:
    ident = identity.resolve()
    if not ident.consent or ident.server is None or ident.machine is None:
        _err(f"nothing sent: {ident.why if not ident.consent else 'no server configured'}")
        return 1
    sent, problem = report.send_spool(ident.server, ident.machine, settings.timeout())
    print(f"sent {sent} report(s)" + (f"; the rest kept: {problem}" if problem else ""))
    return 1 if problem else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "pip":
        return cmd_pip(argv[1:])
    parser = argparse.ArgumentParser(prog="depcanary", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    opt_in = sub.add_parser("opt-in", help="make a random machine id and agree to send reports")
    opt_in.add_argument("--server", help="server URL to save (DEPCANARY_URL wins over it)")
    opt_in.set_defaults(fn=cmd_opt_in)
    sub.add_parser("opt-out", help="stop reporting and forget the machine id").set_defaults(fn=cmd_opt_out)
    sub.add_parser("status", help="server, machine id, consent and pins").set_defaults(fn=cmd_status)
    sub.add_parser("env", help="print export lines for a shell").set_defaults(fn=cmd_env)
    sub.add_parser("pip", help="run pip with this machine's constraints")
    sub.add_parser("send", help="send reports kept from earlier runs").set_defaults(fn=cmd_send)
    args = parser.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
