"""The ``sahut`` command line: database, FAQ, staff, tickets, chat console and the bot.

Operator errors are one clear English line on stderr and a non-zero exit code; a rejected
import lists every ``FILE:LINE: reason`` and exits with 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot.config import Config, ConfigError, load_config
from bot.observability import configure_logging

EXIT_OK, EXIT_ERROR, EXIT_REJECTED = 0, 1, 2


class CliError(Exception):
    """An error to show the operator as one line."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _services(args: argparse.Namespace, **kwargs: Any) -> Any:
    from bot.services import build_services
    from db.migrate import SchemaOutOfDate

    try:
        return build_services(args.config_obj, **kwargs)
    except SchemaOutOfDate as exc:
        raise CliError(str(exc)) from exc


def _engine(config: Config) -> Any:
    from db.engine import make_engine

    return make_engine(config.database.url)


# -- db -------------------------------------------------------------------------------------

def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Apply database migrations."""
    from db.migrate import upgrade

    engine = _engine(args.config_obj)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        print(f"Database already at revision {after}.")
    else:
        print(f"Database upgraded from {before or 'empty'} to {after}.")
    services = _services(args)  # also mirrors the configured OPDs into the database
    services.dispose()
    return EXIT_OK


def cmd_db_current(args: argparse.Namespace) -> int:
    """Show the schema revision."""
    from db.migrate import current_revision, head_revision

    engine = _engine(args.config_obj)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    state = "up to date" if current == head else "needs `sahut db upgrade`"
    print(f"current: {current or 'empty'}  head: {head}  ({state})")
    return EXIT_OK


def cmd_db_backup(args: argparse.Namespace) -> int:
    """Back up the database: SQLite online backup, or pg_dump advice for PostgreSQL."""
    import sqlite3

    from sqlalchemy.engine import make_url

    from db.engine import is_sqlite, normalise_url

    url = make_url(normalise_url(args.config_obj.database.url))
    if not is_sqlite(str(url)):
        safe = url.set(password=None).render_as_string(hide_password=True)
        safe = safe.replace("postgresql+psycopg://", "postgresql://")
        print("PostgreSQL is backed up with its own tools, for example:\n"
              f"  pg_dump --format=custom --file={args.path} '{safe}'\n"
              "(restore with pg_restore; schedule it with cron or your backup system)")
        return EXIT_OK
    source = url.database
    if not source or source == ":memory:":
        raise CliError("the configured SQLite database is in memory; nothing to back up")
    if not Path(source).exists():
        raise CliError(f"database file {source} does not exist")
    target = Path(args.path)
    if target.exists() and not args.force:
        raise CliError(f"{target} exists; use --force to overwrite")
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)  # consistent even while the bot is writing
    print(f"Backed up {source} to {target} ({target.stat().st_size} bytes).")
    return EXIT_OK


# -- faq ------------------------------------------------------------------------------------

def cmd_faq_import(args: argparse.Namespace) -> int:
    """Import FAQ files (CSV/YAML) and OPD files (TOML); all or nothing."""
    from faq.loader import ImportRejected, Problem, load_faq_files, load_opd_file
    from routing.people import Opd

    services = _services(args)
    paths = [Path(p) for p in args.files]
    problems: list[Problem] = []
    opd_profiles = []
    faq_paths = []
    for path in paths:
        if not path.exists():
            problems.append(Problem(str(path), 0, "file not found"))
        elif path.suffix.lower() == ".toml":
            try:
                opd_profiles.extend(load_opd_file(path))
            except ImportRejected as exc:
                problems.extend(exc.problems)
        else:
            faq_paths.append(path)
    with services.uow() as uow:
        known = {o.code for o in uow.opds.all(include_inactive=True)}
        known |= {o.code for o in opd_profiles}
        entries = []
        try:
            entries = load_faq_files(faq_paths, known)
        except ImportRejected as exc:
            problems.extend(exc.problems)
        if problems:
            for problem in problems:
                print(problem, file=sys.stderr)
            print(f"error: import rejected ({len(problems)} problem(s)); nothing was changed",
                  file=sys.stderr)
            services.dispose()
            return EXIT_REJECTED
        configured = {o.code for o in services.config.opds}
        opds = []
        for profile in opd_profiles:
            existing = uow.opds.get(profile.code)
            opds.append(Opd(
                code=profile.code,
                # The config file stays authoritative for the OPDs it defines.
                name=existing.name if existing and profile.code in configured else profile.name,
                # An imported description wins over config.toml's until another import
                # changes it (see bot.services.sync_opds); no description keeps the stored one.
                description=profile.description or (existing.description if existing else ""),
                description_imported=bool(profile.description) or (
                    existing.description_imported if existing else False),
                queue_chat_id=existing.queue_chat_id if existing else None,
                keywords=profile.keywords or (existing.keywords if existing else ()),
            ))
        created, updated, removed = services.helpdesk.import_faq(uow, entries, opds)
        uow.commit()
    services.dispose()
    print(f"Imported {len(entries)} FAQ entries ({created} new, {updated} updated)"
          + (f" and {len(opd_profiles)} OPDs" if opd_profiles else "") + "."
          + (f" Removed {removed} sample entries." if removed else ""))
    return EXIT_OK


def cmd_faq_list(args: argparse.Namespace) -> int:
    """List FAQ entries."""
    services = _services(args)
    with services.uow() as uow:
        if args.opd and uow.opds.get(args.opd.upper()) is None:
            raise CliError(f"unknown OPD {args.opd!r}")
        entries = uow.faqs.all(args.opd.upper() if args.opd else None)
    services.dispose()
    if args.json:
        for e in entries:
            print(json.dumps({"id": e.id, "opd": e.opd, "question": e.question},
                             ensure_ascii=False))
    else:
        for e in entries:
            print(f"{e.id:<20} {e.opd:<14} {e.question}")
        print(f"{len(entries)} entries")
    return EXIT_OK


def _matcher_from(args: argparse.Namespace) -> Any:
    """The matcher over the database FAQs, or over --faq/--opds files when given."""
    from faq.loader import ImportRejected, load_faq_files, load_opd_file
    from faq.matcher import FaqMatcher
    from faq.model import OpdProfile

    config: Config = args.config_obj
    if getattr(args, "faq_files", None):
        try:
            opds = [p for f in (args.opd_files or []) for p in load_opd_file(Path(f))]
            if not opds:
                opds = [OpdProfile(o.code, o.name, o.description, o.keywords)
                        for o in config.opds]
            entries = load_faq_files([Path(f) for f in args.faq_files], {o.code for o in opds})
        except ImportRejected as exc:
            raise CliError(str(exc).splitlines()[0], EXIT_REJECTED) from exc
        return FaqMatcher.build(entries, opds, config.faq)
    services = _services(args)
    matcher = services.faq.matcher()
    if services.faq.size == 0:
        print("warning: the database has no FAQ entries; import them with "
              "`sahut faq import FILE` (or pass --faq FILE)", file=sys.stderr)
    services.dispose()
    return matcher


def cmd_faq_match(args: argparse.Namespace) -> int:
    """Decide on one text, or on each line of stdin."""
    matcher = _matcher_from(args)
    opd = args.opd.upper() if args.opd else None

    def emit(text: str) -> None:
        decision = matcher.decide(text, opd)
        if args.json:
            print(json.dumps(decision.to_json(), ensure_ascii=False))
        else:
            cands = ", ".join(f"{c.faq_id} ({c.score:.0f})" for c in decision.candidates)
            print(f"{decision.decision.value:<9} faq={decision.faq_id or '-'} "
                  f"opd={decision.opd or '-'} score={decision.score:.1f} [{cands}]  {text}")

    if args.text:
        emit(" ".join(args.text))
        return EXIT_OK
    out = sys.stdout
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        emit(text)
        out.flush() if not args.json else None
    return EXIT_OK


def cmd_faq_eval(args: argparse.Namespace) -> int:
    """Score a labelled JSONL file and print metrics and misses."""
    from faq.evaluate import evaluate, format_text, load_labeled

    try:
        items = load_labeled(Path(args.file))
    except FileNotFoundError as exc:
        raise CliError(f"{args.file}: file not found") from exc
    except ValueError as exc:
        raise CliError(str(exc), EXIT_REJECTED) from exc
    matcher = _matcher_from(args)
    targets = args.targets or ("hard" if "hard" in Path(args.file).name else "dev")
    report = evaluate(matcher, items, targets="hard" if targets == "hard" else "dev")
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(format_text(report))
    return EXIT_OK


# -- staff ----------------------------------------------------------------------------------

def cmd_staff_add(args: argparse.Namespace) -> int:
    """Register a staff member, supervisor or admin."""
    from routing.errors import DomainError
    from routing.people import Role

    role = Role.ADMIN if args.admin else Role.SUPERVISOR if args.supervisor else Role.STAFF
    services = _services(args)
    with services.uow() as uow:
        try:
            staff = services.helpdesk.add_staff(uow, telegram_id=args.telegram_id,
                                                name=args.name, role=role, opd_code=args.opd)
        except DomainError as exc:
            raise CliError(f"cannot add staff: {exc}") from exc
        uow.commit()
    services.dispose()
    where = f" of {staff.opd_code}" if staff.opd_code else ""
    print(f"Registered {staff.name} (telegram id {staff.telegram_id}) as "
          f"{staff.role.value}{where}.")
    return EXIT_OK


def cmd_staff_list(args: argparse.Namespace) -> int:
    """List registered people."""
    services = _services(args)
    with services.uow() as uow:
        people = uow.staff.all()
    services.dispose()
    for s in people:
        print(f"{s.telegram_id:<14} {s.role.value:<11} {s.opd_code or '-':<14} {s.name}")
    print(f"{len(people)} registered")
    return EXIT_OK


def cmd_staff_remove(args: argparse.Namespace) -> int:
    """Unregister a person by Telegram id."""
    services = _services(args)
    with services.uow() as uow:
        removed = services.helpdesk.remove_staff(uow, args.telegram_id)
        uow.commit()
    services.dispose()
    if not removed:
        raise CliError(f"no staff member with telegram id {args.telegram_id}")
    print(f"Removed telegram id {args.telegram_id}.")
    return EXIT_OK


# -- tickets --------------------------------------------------------------------------------

def _admin_principal() -> Any:
    from routing.policy import Principal, PrincipalKind

    return Principal(PrincipalKind.ADMIN, name="cli")


def cmd_ticket_list(args: argparse.Namespace) -> int:
    """One line per ticket, starting with its reference."""
    from routing.tickets import TicketState

    services = _services(args)
    with services.uow() as uow:
        if args.opd and uow.opds.get(args.opd.upper()) is None:
            raise CliError(f"unknown OPD {args.opd!r}")
        tickets = uow.tickets.find(opd_code=args.opd.upper() if args.opd else None,
                                   states=[TicketState(args.state)] if args.state else None)
        views = [services.helpdesk.view(uow, t) for t in tickets]
    services.dispose()
    for v in views:
        t = v.ticket
        flag = " OVERDUE" if v.overdue else ""
        print(f"{t.reference}  {t.opd_code:<14} {t.kind.value:<10} {t.state.value:<9} "
              f"{v.age_working_days:5.1f}wd{flag}  {_one_line(t.text, 60)}")
    if not args.quiet:
        print(f"{len(views)} ticket(s)", file=sys.stderr)
    return EXIT_OK


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def cmd_ticket_show(args: argparse.Namespace) -> int:
    """Everything about one ticket, with its audit trail."""
    from routing.errors import TicketNotFound
    from routing.privacy import mask_personal_data

    services = _services(args)
    with services.uow() as uow:
        try:
            view = services.helpdesk.show_ticket(uow, _admin_principal(), args.reference.upper())
        except TicketNotFound as exc:
            raise CliError(f"no ticket {args.reference!r}") from exc
        assert view.ticket.id is not None
        events = uow.tickets.events(view.ticket.id)
        attachments = uow.tickets.attachments(view.ticket.id)
    services.dispose()
    t = view.ticket
    tz = services.config.province.tz
    fmt = "%Y-%m-%d %H:%M %Z"
    print(f"Reference:      {t.reference}")
    print(f"OPD:            {view.opd.code} ({view.opd.name})")
    print(f"Kind:           {t.kind.value}" + (f" / tier {t.tier}" if t.tier else ""))
    print(f"State:          {t.state.value}" + ("  (OVERDUE)" if view.overdue else ""))
    print(f"Opened:         {t.created_at.astimezone(tz):{fmt}}")
    print(f"First response due: {view.deadlines.first_response.astimezone(tz):{fmt}}")
    if view.deadlines.legal:
        print(f"Legal deadline: {view.deadlines.legal.astimezone(tz):{fmt}}")
    if t.first_response_seconds is not None:
        print(f"First response: {t.first_response_seconds / 3600:.1f} working hours")
    if t.resolution_seconds is not None:
        print(f"Resolution:     {t.resolution_seconds / 3600:.1f} working hours")
    print(f"Age:            {view.age_working_days:.1f} working days")
    if t.rating:
        print(f"Rating:         {t.rating}/5")
    if t.anonymous:
        print("Anonymous:      yes")
    print(f"Attachments:    {len(attachments)}")
    print(f"Text:           {mask_personal_data(t.text)}")
    print("Events:")
    for e in events:
        detail = ", ".join(f"{k}={v}" for k, v in (e["data"] or {}).items()
                           if k not in ("reason",) or v)
        print(f"  {e['at'].astimezone(tz):{fmt}}  {e['type']:<15} {e['opd_code']:<12} "
              f"{e['actor_kind']}{'#' + str(e['actor_id']) if e['actor_id'] else ''}"
              f"  {detail}")
    return EXIT_OK


# -- privacy --------------------------------------------------------------------------------

def cmd_db_prune(args: argparse.Namespace) -> int:
    """Delete delivered messages, old update ids and idle drafts past their retention."""
    from bot.scheduler import retention_of
    from db.housekeeping import prune

    services = _services(args)
    pruned = prune(services.engine, services.clock(), retention_of(services),
                   dry_run=args.dry_run)
    services.dispose()
    privacy = args.config_obj.privacy
    verb = "Would delete" if args.dry_run else "Deleted"
    print(f"{verb} {pruned.messages} delivered message(s) older than "
          f"{privacy.sent_messages_days} days, {pruned.processed_updates} update id(s) older "
          f"than {privacy.processed_updates_hours} hours and {pruned.drafts} draft(s) idle "
          f"for {privacy.idle_drafts_days} days.")
    return EXIT_OK


def cmd_privacy_purge(args: argparse.Namespace) -> int:
    """Anonymise closed tickets past the retention period."""
    days = args.older_than if args.older_than is not None else (
        args.config_obj.privacy.retention_days)
    if days < 0:
        raise CliError("--older-than must be zero or more days")
    services = _services(args)
    placeholder = services.renderer.render("common/erased_placeholder", {})
    with services.uow() as uow:
        count = services.helpdesk.purge(uow, days, placeholder)
        if not args.dry_run:
            uow.commit()
    services.dispose()
    verb = "Would anonymise" if args.dry_run else "Anonymised"
    print(f"{verb} {count} closed ticket(s) older than {days} days.")
    return EXIT_OK


# -- chat and run ---------------------------------------------------------------------------

def cmd_chat(args: argparse.Namespace) -> int:
    """The offline chat console."""
    from bot.console import run_console

    return run_console(args.config_obj, demo=not args.no_demo)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the Telegram bot."""
    from bot.telegram_app import run_bot

    return run_bot(args.config_obj, webhook=args.webhook, listen=args.listen,
                   public_url=args.public_url, senders=args.senders)


def cmd_send(args: argparse.Namespace) -> int:
    """Deliver the outbox only (scale sending with several processes)."""
    from bot.telegram_app import run_sender

    return run_sender(args.config_obj, senders=args.senders, share=args.share)


def cmd_config_check(args: argparse.Namespace) -> int:
    """Validate the configuration."""
    config: Config = args.config_obj
    print(f"{config.source}: OK — {config.province.name} ({config.province.timezone}), "
          f"{len(config.opds)} OPDs, PPID Utama {config.ppid_utama.code}, "
          f"database {config.database.url.split('@')[-1]}")
    return EXIT_OK


# -- parser ---------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="sahut", description="Sahut: the province's citizen chatbot (FAQ answers, "
        "tickets to OPDs, response-time reports).")
    parser.add_argument("--config", metavar="PATH",
                        help="configuration file (default: $SAHUT_CONFIG or ./config.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument("--json-logs", action="store_true",
                        help="structured JSON log lines (no message text or tokens)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(parent: Any, name: str, func: Callable[[argparse.Namespace], int],
            help_: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command",
                                                                      metavar="ACTION")
    add(db, "upgrade", cmd_db_upgrade, "apply migrations (creates the database if needed)")
    add(db, "current", cmd_db_current, "show the schema revision")
    p = add(db, "backup", cmd_db_backup, "back up the database (SQLite online backup; "
            "prints pg_dump advice for PostgreSQL)")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--force", action="store_true", help="overwrite PATH")
    p = add(db, "prune", cmd_db_prune, "delete delivered messages, old update ids and idle "
            "drafts past [privacy] retention (the bot also does this hourly)")
    p.add_argument("--dry-run", action="store_true", help="only count what would go")

    faq = sub.add_parser("faq", help="FAQ entries and matching").add_subparsers(
        dest="faq_command", metavar="ACTION")
    p = add(faq, "import", cmd_faq_import,
            "import FAQ files (CSV/YAML: id,opd,question,answer,variants,keywords) and OPD "
            "files (TOML [[opd]] tables); all or nothing")
    p.add_argument("files", nargs="+", metavar="FILE")
    p = add(faq, "list", cmd_faq_list, "list FAQ entries")
    p.add_argument("--opd", metavar="CODE")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    for name, func, help_ in (
        ("match", cmd_faq_match, "decide on TEXT (or each line of stdin): answer, suggest, "
                                 "route, triage or smalltalk"),
        ("eval", cmd_faq_eval, "score a labelled JSONL file and list the misses"),
    ):
        p = add(faq, name, func, help_)
        if name == "match":
            p.add_argument("text", nargs="*", metavar="TEXT")
            p.add_argument("--opd", metavar="CODE", help="only this OPD's FAQs")
        else:
            p.add_argument("file", metavar="FILE.jsonl")
            p.add_argument("--targets", choices=("dev", "hard"),
                           help="which target column to check (default: by file name)")
        p.add_argument("--json", action="store_true", help="JSON output")
        p.add_argument("--faq", dest="faq_files", action="append", metavar="FILE",
                       help="match against this FAQ file instead of the database")
        p.add_argument("--opds", dest="opd_files", action="append", metavar="FILE",
                       help="OPD TOML file to use with --faq")

    staff = sub.add_parser("staff", help="who may act in the bot").add_subparsers(
        dest="staff_command", metavar="ACTION")
    p = add(staff, "add", cmd_staff_add, "register a staff member, supervisor or admin")
    p.add_argument("--telegram-id", type=int, required=True, metavar="N")
    p.add_argument("--name", required=True)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--opd", metavar="CODE", help="staff of this OPD (or PPID Utama's code)")
    group.add_argument("--supervisor", action="store_true")
    group.add_argument("--admin", action="store_true")
    add(staff, "list", cmd_staff_list, "list registered people")
    p = add(staff, "remove", cmd_staff_remove, "unregister a person")
    p.add_argument("--telegram-id", type=int, required=True, metavar="N")

    ticket = sub.add_parser("ticket", help="inspect tickets").add_subparsers(
        dest="ticket_command", metavar="ACTION")
    p = add(ticket, "list", cmd_ticket_list, "one line per ticket, starting with its reference")
    p.add_argument("--opd", metavar="CODE")
    p.add_argument("--state", choices=("open", "claimed", "answered", "waiting", "closed",
                                       "rejected"))
    p.add_argument("-q", "--quiet", action="store_true", help="no count line")
    p = add(ticket, "show", cmd_ticket_show, "one ticket with its audit trail")
    p.add_argument("reference", metavar="REF")

    p = add(sub, "chat", cmd_chat,
            "offline chat console: talk as a citizen, staff or supervisor without Telegram")
    p.add_argument("--no-demo", action="store_true",
                   help="do not load the sample FAQ and demo staff into an empty database")
    p = add(sub, "run", cmd_run, "run the Telegram bot (TELEGRAM_BOT_TOKEN)")
    p.add_argument("--webhook", action="store_true", help="serve a webhook instead of polling")
    p.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT")
    p.add_argument("--public-url", metavar="URL", help="public HTTPS URL of the webhook")
    p.add_argument("--senders", type=int, default=0, metavar="N",
                   help="polling: deliver the outbox in N separate processes (PostgreSQL)")
    p = add(sub, "send", cmd_send, "deliver the outbox only (and run reminders); pair it "
            "with `sahut run --senders 0` on other hosts, PostgreSQL for more than one")
    p.add_argument("--senders", type=int, default=1, metavar="N",
                   help="processes to start, each with 1/N of [sender] overall_per_second")
    p.add_argument("--share", type=int, default=1, help=argparse.SUPPRESS)

    privacy = sub.add_parser("privacy", help="personal data (UU 27/2022)").add_subparsers(
        dest="privacy_command", metavar="ACTION")
    p = add(privacy, "purge", cmd_privacy_purge,
            "anonymise closed tickets past the retention period")
    p.add_argument("--older-than", type=int, metavar="DAYS",
                   help="days since closing (default: [privacy] retention_days)")
    p.add_argument("--dry-run", action="store_true", help="count only, change nothing")

    config = sub.add_parser("config", help="configuration").add_subparsers(
        dest="config_command", metavar="ACTION")
    add(config, "check", cmd_config_check, "validate the configuration file")
    from bot import reports_cli

    reports_cli.register(sub, add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sahut`` and ``python -m bot``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(verbose=args.verbose, json_logs=args.json_logs)
    func = getattr(args, "func", None)
    if func is None:
        # `sahut` or `sahut faq` alone: show the relevant help.
        chosen = [a for a in (args.command,) if a]
        parser.parse_args([*chosen, "--help"])
        return EXIT_ERROR
    try:
        args.config_obj = load_config(args.config)
        return int(func(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # last resort: one line for the operator, details with -v
        logging.getLogger("sahut").debug("unexpected error", exc_info=True)
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
