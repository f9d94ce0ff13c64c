"""``python -m scenescout_ir``: the incident log, the post-mortem draft and the HTML report.

    python -m scenescout_ir incident start "checkout answers 500 since 14:02"
    python -m scenescout_ir incident note "restarted pgbouncer"
    python -m scenescout_ir incident status
    python -m scenescout_ir incident resolve --resolution ... --root-cause ... --impact ... --next-steps ...
    python -m scenescout_ir incident postmortem
    python -m scenescout_ir report                 (what `make report` runs)
    python -m scenescout_ir checks [--markdown]    (every check: markers, playbook line, condition, severity)
    python -m scenescout_ir traceability [--check] (writes docs/traceability.md; --check: only compare)
    python -m scenescout_ir merge DIR... [--output reports/merged] [--html FILE]  (many runs, one gate verdict)

Every error is one line on stderr (exit 2); nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from scenescout_ir.core.config import DEFAULT_TARGET, DEFAULT_TARGETS_FILE, load_target
from scenescout_ir.core.outcomes import ConfigError
from scenescout_ir.core.redact import Redactor
from scenescout_ir.incident import log as incident
from scenescout_ir.incident import notify, postmortem
from scenescout_ir.reporting import report


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line too (argparse would print the usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m scenescout_ir", description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default=os.environ.get("SCENESCOUT_TARGET", DEFAULT_TARGET),
                        help="target whose secrets are scrubbed from what is written (env SCENESCOUT_TARGET)")
    parser.add_argument("--targets-file", default=os.environ.get("SCENESCOUT_TARGETS_FILE", DEFAULT_TARGETS_FILE),
                        help="the targets file (env SCENESCOUT_TARGETS_FILE)")
    sub = parser.add_subparsers(dest="command", required=True)

    inc = sub.add_parser("incident", help="the incident log (the playbook's Document Incident Start ...)")
    inc.add_argument("--incidents-dir", type=Path, default=None,
                     help=f"where incident logs live (env {incident.INCIDENTS_ENV}; default <project>/incidents)")
    actions = inc.add_subparsers(dest="action", required=True)
    start = actions.add_parser("start", help="create incident-YYYYMMDD-HHMM.log with its INCIDENT START line")
    start.add_argument("description")
    note = actions.add_parser("note", help="append 'Mitigation attempted: ...' to the open incident")
    note.add_argument("action_taken", metavar="action")
    actions.add_parser("status", help="show the open incident, if any")
    res = actions.add_parser("resolve", help="append the playbook's resolution block and close the incident")
    for flag in ("--resolution", "--root-cause", "--impact", "--next-steps"):
        res.add_argument(flag, required=True)
    pm = actions.add_parser("postmortem", help="write the post-incident review draft (Markdown)")
    pm.add_argument("--incident", type=Path, default=None, help="the incident log (default: the newest)")
    pm.add_argument("--output", type=Path, default=None, help="default: <incident>-postmortem.md beside the log")
    pm.add_argument("--no-render", action="store_true", help="do not render the runs' reports that are missing")

    rep = sub.add_parser("report", help="render the kept runs into self-contained HTML reports (Allure 3)")
    rep.add_argument("--reports-dir", type=Path, default=None, help="default: <project>/reports")
    rep.add_argument("--results", type=Path, default=None, help="render this Allure results dir instead ...")
    rep.add_argument("--output", type=Path, default=None, help="... into this HTML file")
    checks = sub.add_parser("checks", help="list every check with its markers, playbook line, condition, severity")
    checks.add_argument("--markdown", action="store_true", help="as a Markdown table")
    trace = sub.add_parser("traceability", help="write docs/traceability.md: every playbook command and its checks")
    trace.add_argument("--check", action="store_true", help="do not write: fail if the file is not up to date")
    mrg = sub.add_parser("merge", help="merge the reports dirs of several runs (a CI matrix's jobs) into one "
                                        "verdict.json, one Allure results dir and one job summary")
    mrg.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="a run's reports dir (verdict.json inside)")
    mrg.add_argument("--output", type=Path, default=None, help="default: <project>/reports/merged")
    mrg.add_argument("--html", type=Path, default=None, help="also render the merged results into this HTML file")
    mrg.add_argument("--flaky-fails", action="store_true", help="a FLAKY check fails the gate (exit 7)")
    return parser


def _merge(args: argparse.Namespace, root: Path) -> int:
    from scenescout_ir.reporting import merge

    allure = None
    missing = None
    if args.html:
        try:
            allure = report.allure_command(root)
        except report.ReportError as exc:  # the merge still gives the gate its verdict; the report is said missing
            missing = f"report: not rendered ({exc})"
    _, code, lines = merge.merge(args.dirs, (args.output or root / merge.MERGED_DIR).absolute(),
                                 flaky_fails=args.flaky_fails, html=args.html, allure=allure)
    if missing:
        lines.insert(-1, missing)
    print("\n".join(lines))
    return code


def _redactor(args: argparse.Namespace, root: Path) -> Redactor:
    """The target's secrets when its config can be read; the credential shapes always."""
    path = Path(args.targets_file)
    try:
        target = load_target(path if path.is_absolute() else root / path, args.target)
    except ConfigError:
        return Redactor()
    return Redactor(target.secrets())


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root = incident.project_root()
    try:
        if args.command == "report":
            return _report(args, root)
        if args.command == "merge":
            return _merge(args, root)
        if args.command in ("checks", "traceability"):
            return _traceability(args)
        return _incident(args, root)
    except (incident.IncidentError, report.ReportError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror}", file=sys.stderr)
        return 2


def _incident(args: argparse.Namespace, root: Path) -> int:
    directory = (args.incidents_dir.absolute() if args.incidents_dir else incident.incidents_dir(root))
    redact = _redactor(args, root)
    if args.action == "start":
        path = incident.start(directory, args.description, redact=redact)
        print(f"incident started: {_shown(path)}")
        _notify(f"\N{POLICE CARS REVOLVING LIGHT} INCIDENT: {args.description} - Investigating", directory, redact)
        print("while it is open, every run of the suite appends its verdict and findings to it")
    elif args.action == "note":
        path = incident.note(directory, args.action_taken, redact=redact)
        print(f"noted in {_shown(path)}")
    elif args.action == "status":
        current = incident.open_incident(directory)
        if current is None:
            print(f"no open incident in {_shown(directory)}")
        else:
            runs = current.runs()
            print(f"open: {_shown(current.path)} since {incident.stamp(current.started_at())}"  # type: ignore[arg-type]
                  f" - {current.description}; {len(runs)} runs recorded"
                  + (f", last {runs[-1].severity}" if runs else ""))
    elif args.action == "resolve":
        current = incident.open_incident(directory)
        path = incident.resolve(directory, resolution=args.resolution, root_cause=args.root_cause,
                                impact=args.impact, next_steps=args.next_steps, redact=redact)
        print(f"incident resolved: {_shown(path)}")
        if current is not None:
            _notify(f"\N{WHITE HEAVY CHECK MARK} RESOLVED: {current.description} - {args.resolution}", None, redact)
        print("next: python -m scenescout_ir incident postmortem")
    elif args.action == "postmortem":
        return _postmortem(args, directory, root, redact)
    return 0


def _postmortem(args: argparse.Namespace, directory: Path, root: Path, redact: Callable[[str], str]) -> int:
    chosen = incident.parse(args.incident) if args.incident else incident.latest(directory)
    reports_dir = _reports_dir_of(chosen) or root / "reports"
    if not args.no_render and any(not (r / report.REPORT).exists() for r in report.runs(reports_dir)):
        try:  # every kept run not rendered yet, oldest first: the runs before the start are linked too
            report.render_pending(reports_dir, allure=report.allure_command(root))
        except report.ReportError as exc:
            print(f"note: the runs' reports were not rendered ({exc})", file=sys.stderr)
    text = postmortem.draft(chosen, reports_dir=reports_dir, output=args.output)
    path = postmortem.write(chosen, redact(text), args.output)
    print(f"post-mortem draft: {_shown(path)}")
    return 0


def _reports_dir_of(chosen: incident.Incident) -> Path | None:
    for entry in chosen.runs():
        if entry.report:
            return (chosen.path.parent / entry.report).parent.parent.parent.resolve()
    return None


def _notify(text: str, directory: Path | None, redact: Callable[[str], str]) -> None:
    sent = notify.send(text, redact=redact)
    if sent is None:
        return
    delivered, what = sent
    print(f"notification {'sent' if delivered else 'NOT sent'}: {what}")
    if directory is not None:
        line = f"{incident.NOTIFIED}{'to ' + what if delivered else 'FAILED: ' + what}"
        incident.append_event(directory, [line], redact=redact)


def _report(args: argparse.Namespace, root: Path) -> int:
    allure = report.allure_command(root)
    if args.results or args.output:
        if not (args.results and args.output):
            raise report.ReportError("--results and --output go together")
        verdict = report.read_verdict(args.results.parent)
        title = report.title_of(verdict) if verdict else f"SceneScout: {args.results}"
        path = report.render(args.results, args.output, title=title, allure=allure)
        print(f"report: {_shown(path)} ({_size(path)})")
        return 0
    reports_dir = (args.reports_dir or root / "reports").absolute()
    rendered = report.render_pending(reports_dir, allure=allure)
    latest = reports_dir / report.REPORT
    if not latest.is_file():
        raise report.ReportError(f"no run kept in {_shown(reports_dir / report.RUNS)}: run the checks first "
                                 "(pytest -m emergency)")
    for path in rendered:
        print(f"rendered {_shown(path)} ({_size(path)})")
    print(f"report: {_shown(latest)} ({_size(latest)}; the newest run, one self-contained file to attach)")
    print(f"history: {_shown(reports_dir / report.HISTORY)} ({len(report.runs(reports_dir))} runs kept)")
    return 0


def _traceability(args: argparse.Namespace) -> int:
    from scenescout_ir.playbook import traceability

    try:
        checks = traceability.collect()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "checks":
        print(traceability.render_catalogue(checks, markdown=args.markdown), end="")
        return 0
    problems = traceability.problems(checks)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    table = traceability.rows(checks)
    text = traceability.render_traceability(table)
    path = traceability.TRACEABILITY_FILE
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"error: {_shown(path)} is not what the checks say: run `make docs`", file=sys.stderr)
            return 1
    else:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {_shown(path)}: {traceability.coverage_line(table)}")
    return 1 if problems else 0


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def _shown(path: Path) -> str:
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
