"""`depcanary`: consent, status, and this machine's pins outside tox.

depcanary opt-in [--server URL]   make a random machine id, agree to send reports, enrol with the server
depcanary opt-out                 stop reporting, forget the id and its enrolment, drop unsent reports
depcanary status                  server, machine id, consent, pins that differ from the base
depcanary env                     `export PIP_CONSTRAINT=...` lines: eval "$(depcanary env)"
depcanary pip ARGS...             python -m pip ARGS with this machine's constraints
depcanary send                    send reports kept from earlier runs
depcanary constraints --out PATH  CI pre-run: write this job's cohort constraints file
depcanary report --from-subunit FILE | --from-junit FILE
                                  CI post-run: send one report of the job's test results
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

from . import ci, constraints, enrol, envinfo, http, identity, pins, report, results, settings, sources

__all__ = ["main"]


def _err(message: str) -> None:
    sys.stderr.write(f"depcanary: {message}\n")


def _resolve(ident: identity.Identity) -> pins.Resolution | None:
    if ident.server is None:
        _err("no server configured: set DEPCANARY_URL or run `depcanary opt-in --server URL`")
        return None
    res = pins.fetch(ident.server, ident.machine, settings.timeout(), settings.branch())
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
    if (
        ident.consent
        and ident.machine
        and not settings.reporter_token()
        and not enrol.saved(ident.server, ident.machine)
    ):
        try:
            got = enrol.enrol(ident.server, ident.machine, settings.timeout(), may_change=enrol.is_own(ident.machine))
        except enrol.EnrolFailed as err:
            print(f"note: not enrolled with {ident.server} yet ({err}); the next tox run tries again")
            return 0
        if got.changed:
            print(f"machine id {ident.machine} is enrolled by another machine: this one is now {got.machine}")
        print(f"enrolled with {ident.server}: its credential is kept in {identity.config_path()} (mode 0600)")
    return 0


def cmd_opt_out(_: argparse.Namespace) -> int:
    ident = identity.resolve()
    forgotten = ""
    if ident.server:
        credential = enrol.forget(ident.server)
        if credential:
            # best effort: the server forgets the enrolment too (reports already counted stay)
            try:
                resp = http.request(
                    "DELETE",
                    f"{ident.server}/v1/enrol",
                    seconds=settings.timeout(),
                    headers={"Authorization": f"Bearer {credential}"},
                )
                forgotten = ", its enrolment forgotten by the server" if resp.status == 200 else ""
            except http.ServerProblem:
                pass
    identity.opt_out()
    dropped = report.clear_spool()
    print(f"opted out: machine id forgotten{forgotten}, {dropped} unsent report(s) deleted; no reports will be sent")
    return 0


def cmd_status(_: argparse.Namespace) -> int:
    ident = identity.resolve()
    source = "DEPCANARY_URL" if os.environ.get("DEPCANARY_URL") else identity.config_path()
    print(f"server:     {ident.server or 'none configured'}" + (f" (from {source})" if ident.server else ""))
    shown = ident.machine or ident.saved_machine
    where = "DEPCANARY_MACHINE_ID" if os.environ.get("DEPCANARY_MACHINE_ID") else identity.config_path()
    print(f"machine id: {shown or 'none (made at opt-in)'}" + (f" (from {where})" if shown else ""))
    print(f"consent:    {'yes' if ident.consent else 'no'} ({ident.why})")
    if settings.reporter_token():
        print("reports:    sent with DEPCANARY_REPORTER_TOKEN (a CI system's reporter token)")
    elif ident.server and ident.consent and ident.machine:
        enrolled = enrol.saved(ident.server, ident.machine) is not None
        print(f"enrolled:   {'yes' if enrolled else 'not yet (the next tox run or `depcanary opt-in` enrols)'}")
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


def _shell_file(res: pins.Resolution) -> Path | None:
    """The one constraints file for a shell: the local files TOX_CONSTRAINTS_FILE /
    PIP_CONSTRAINT / UV_CONSTRAINT already name, with the overrides applied, else the server's
    file; without the project in the current directory (a `pip install -e .` of it must not
    clash with its own pin)."""
    if res.path is None:
        return None
    root = Path.cwd()
    values = {
        v: os.environ[v] for v in ("TOX_CONSTRAINTS_FILE", "PIP_CONSTRAINT", "UV_CONSTRAINT") if os.environ.get(v)
    }
    choice = sources.choose([], values, root, settings.branch())
    name = envinfo.metadata_name(root)
    drop = {constraints.normalize(name)} if name else set()
    try:
        return pins.cohort_file(res, choice.files if choice.kind == "local" else (), drop)
    except OSError as err:
        _err(f"cannot write the constraints file ({err})")
        return None


def cmd_env(_: argparse.Namespace) -> int:
    res = _resolve(identity.resolve())
    path = _shell_file(res) if res is not None else None
    if path is None:
        return 1
    for var in ("PIP_CONSTRAINT", "UV_CONSTRAINT", "TOX_CONSTRAINTS_FILE"):
        print(f"export {var}={shlex.quote(str(path))}")
    return 0


def cmd_pip(pip_args: list[str]) -> int:
    env = dict(os.environ)
    res = _resolve(identity.resolve())
    path = _shell_file(res) if res is not None else None
    if path is not None:
        env["PIP_CONSTRAINT"] = str(path)
    venv = os.environ.get("VIRTUAL_ENV")
    python = Path(venv) / "bin" / "python" if venv else Path(sys.executable)
    if not python.exists():
        python = Path(sys.executable)
    return subprocess.call([str(python), "-m", "pip", *pip_args], env=env)


def cmd_constraints(args: argparse.Namespace) -> int:
    done = ci.write_constraints(identity.for_ci_key(args.ci_key), Path(args.out), args.branch or settings.branch())
    (print if done.code == 0 else _err)(done.message)
    return done.code


def cmd_report(args: argparse.Namespace) -> int:
    path = Path(args.from_subunit or args.from_junit)
    found: results.Results | None
    if not path.exists():
        found = None
        _err(f"{path} does not exist: reporting the job as an error without results")
    else:
        try:
            found = results.from_subunit(path) if args.from_subunit else results.from_junit(path)
        except results.ResultsError as err:
            _err(f"nothing sent: {err}")
            return 2
    root = Path(args.project_dir)
    python = Path(args.python) if args.python else root / ".tox" / args.env / "bin" / "python"
    facts = ci.JobFacts(
        args.project or envinfo.project_name(root.resolve()), args.env, python if python.exists() else None
    )
    done = ci.send_report(identity.for_ci_key(args.ci_key), found, facts)
    (print if done.code == 0 else _err)(done.message)
    return done.code


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
    ci_key_help = "CI key, e.g. change and patchset: the machine id is a hash of it (a recheck keeps its arm)"
    cons = sub.add_parser("constraints", help="CI pre-run: write this job's cohort constraints file")
    cons.add_argument("--out", required=True, help="where the job reads its constraints (applied to it if it exists)")
    cons.add_argument("--branch", help="master, stable/<series> or a release id such as 2025.2 (default: master)")
    cons.add_argument("--ci-key", help=ci_key_help)
    cons.set_defaults(fn=cmd_constraints)
    rep = sub.add_parser("report", help="CI post-run: send one report of the job's test results")
    given = rep.add_mutually_exclusive_group(required=True)
    given.add_argument("--from-subunit", metavar="FILE", help="a subunit v2 stream (stestr last --subunit)")
    given.add_argument("--from-junit", metavar="FILE", help="a JUnit XML file")
    rep.add_argument("--ci-key", help=ci_key_help)
    rep.add_argument("--env", default="py3", help="the tox env the tests ran in (default: py3)")
    rep.add_argument("--project", help="the project's name (default: from the metadata in --project-dir)")
    rep.add_argument("--project-dir", default=".", help="the project checkout (default: .)")
    rep.add_argument(
        "--python", help="the interpreter of the tests' env (default: <project-dir>/.tox/<env>/bin/python)"
    )
    rep.set_defaults(fn=cmd_report)
    args = parser.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
