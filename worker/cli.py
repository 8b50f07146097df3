"""The `privacy-worker` command line: classify, scan, run, doctor, check-rules, review."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from worker.config import Settings, load_settings
from worker.errors import WorkerError
from worker.judge.classify import Classifier, decision_json
from worker.judge.decide import failure
from worker.judge.rules import DEFAULT_RULES_DIR, RuleSet, load_rules
from worker.judge.tenants import Registry, load_registry


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        code: int = args.handler(args, settings, sys.stdout)
        return code
    except WorkerError as err:
        print(f"privacy-worker: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as Unix tools do; stdout now points
        # at /dev/null so the flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="privacy-worker", description=__doc__)
    _config_option(parser, default=None)
    # Every command takes --config too, after its name (`run --config FILE`), where people put
    # it; SUPPRESS keeps one given before the command unless the command names another.
    common = argparse.ArgumentParser(add_help=False)
    _config_option(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, parents=[common])

    classify = command("classify", help="decide what mails are (dry run: nothing sent)")
    classify.add_argument("--tenants", type=Path, default=None, help="tenant registry YAML")
    classify.add_argument("--rules", type=Path, default=None, help="rules folder")
    classify.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per file (the only output format)",
    )
    classify.add_argument(
        "--no-scan",
        action="store_true",
        help="do not OCR image and PDF attachments (ID copies are then known by name only)",
    )
    classify.add_argument("files", nargs="+", help=".eml files to classify")
    classify.set_defaults(handler=_classify)

    scan = command("scan", help="look for readable BSN, MRZ, document number, photo")
    scan.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per file (the only output format)",
    )
    scan.add_argument("--rules", type=Path, default=None, help="rules folder")
    scan.add_argument("files", nargs="+", help="images or PDFs")
    scan.set_defaults(handler=_scan)

    run = command("run", help="the service: poll, answer, forward, until SIGTERM")
    run.add_argument(
        "--once", action="store_true", help="one poll and one round of the outbox, then exit"
    )
    run.add_argument("--tenants", type=Path, default=None, help="tenant registry YAML")
    run.add_argument("--rules", type=Path, default=None, help="rules folder")
    run.add_argument(
        "--samples",
        type=Path,
        default=None,
        help="first deliver the .eml files of this folder into the mailbox (a demo run)",
    )
    run.set_defaults(handler=_run)

    doctor = command("doctor", help="check config, rules, tesseract, store, mailbox and SMTP")
    doctor.set_defaults(handler=_doctor)

    health = command("health", help="exit 0 while `run` polls (container healthcheck)")
    health.add_argument(
        "--max-age",
        type=float,
        default=None,
        help="seconds since the last poll that still count as healthy (default: 3 poll rounds)",
    )
    health.set_defaults(handler=_health)

    check = command("check-rules", help="validate the rules folder and tenant registry")
    check.add_argument("--tenants", type=Path, default=None, help="tenant registry YAML")
    check.add_argument("--rules", type=Path, default=None, help="rules folder")
    check.set_defaults(handler=_check_rules)

    review = command("review", help="serve the review page for privacy staff")
    review.add_argument("--listen", default=None, help="host:port (default: review_listen)")
    review.add_argument("--tenants", type=Path, default=None, help="tenant registry YAML")
    review.set_defaults(handler=_review)

    user = command("review-user", help="add a review page user or set a password")
    user.add_argument("name", help="the user's name (lower case)")
    user.set_defaults(handler=_review_user)
    return parser


def _config_option(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=default,
        help="TOML configuration file (default: $PRIVACY_WORKER_CONFIG, else none)",
    )


def _knowledge(args: argparse.Namespace, settings: Settings) -> tuple[RuleSet, Registry]:
    rules = load_rules(args.rules or settings.rules_dir or DEFAULT_RULES_DIR)
    tenants = args.tenants or settings.tenants_file or rules.directory / "tenants.yaml"
    return rules, load_registry(tenants)


def _classify(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from worker.judge.scan.isolated import IsolatedScanner
    from worker.reply.respond import action, first_reply
    from worker.reply.templates import load_templates

    rules, registry = _knowledge(args, settings)
    receipt_for = load_templates(rules.directory).receipt_for
    tenants = {t.id for t in registry.tenants}
    with IsolatedScanner(rules.id_scan, memory_mb=settings.scan_memory_mb) as scanner:
        classifier = Classifier(
            rules,
            registry,
            settings.mailbox_address,
            scan=False if args.no_scan else scanner,
            scan_seconds=settings.scan_seconds_per_mail,
        )

        def describe(raw: bytes, name: str) -> dict[str, object]:
            try:
                decision = classifier.classify(raw)
            except Exception as err:  # one bad file must not stop the others
                decision = failure(f"internal error while classifying: {type(err).__name__}: {err}")
            # What the worker would do on its own (a dry run: no daily limit, no refusals).
            planned = action(first_reply(decision, tenants, receipt_for), decision.tenant)
            return {**decision_json(decision, name), "action": planned}

        return _each_file(args.files, out, describe)


def _scan(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from worker.judge.scan.isolated import IsolatedScanner
    from worker.judge.scan.scanner import ScanResult, scan_json

    words = load_rules(args.rules or settings.rules_dir or DEFAULT_RULES_DIR).id_scan
    with IsolatedScanner(words, memory_mb=settings.scan_memory_mb) as scanner:

        def describe(data: bytes, name: str) -> dict[str, object]:
            try:
                result = scanner(data)
            except Exception as err:  # one bad file must not stop the others
                result = ScanResult.failed(f"internal error: {type(err).__name__}: {err}")
            return scan_json(result, name)

        return _each_file(args.files, out, describe)


def _each_file(
    files: list[str], out: TextIO, describe: Callable[[bytes, str], dict[str, object]]
) -> int:
    """One JSON line per file; a file that cannot be read gets an error line and exit code 1."""
    failed = False
    for name in files:
        try:
            data = Path(name).read_bytes()
        except OSError as err:
            failed = True
            out.write(
                json.dumps({"file": name, "error": f"cannot read: {err.strerror or err}"}) + "\n"
            )
            continue
        out.write(json.dumps(describe(data, name)) + "\n")
    return 1 if failed else 0


def _run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from worker.service import logs
    from worker.service.jobs import Worker, run_once
    from worker.service.scheduler import run_forever

    logs.setup(settings.log_format, logging.WARNING if args.once else logging.INFO)
    rules, registry = _knowledge(args, settings)
    if args.once:
        return run_once(settings, rules, registry, args.samples, out)
    if args.samples:
        print("privacy-worker run: --samples only with --once", file=sys.stderr)
        return 2
    with Worker(settings, rules, registry) as worker:
        return run_forever(worker, settings.heartbeat_file)


def _health(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    limit = args.max_age or max(3 * settings.poll_seconds, 300)
    try:
        age = time.time() - settings.heartbeat_file.stat().st_mtime
    except FileNotFoundError:
        out.write(f"unhealthy: no poll yet ({settings.heartbeat_file} missing)\n")
        return 1
    healthy = age <= limit
    out.write(f"{'healthy' if healthy else 'unhealthy'}: last poll {age:.0f} s ago\n")
    return 0 if healthy else 1


def _doctor(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from worker.service.doctor import doctor

    return doctor(settings, out)


def _check_rules(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from worker.reply.templates import load_templates

    rules, registry = _knowledge(args, settings)
    templates = load_templates(rules.directory)
    out.write(
        f"ok: {len(rules.phrases)} phrase rules, {len(rules.headers)} header rules, "
        f"{len(registry.tenants)} tenants, {len(templates.compiled)} templates\n"
    )
    return 0


def _review(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from worker.review.server import serve

    return serve(settings, args.listen, args.tenants, out)


def _review_user(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from worker.review.server import review_user

    return review_user(settings, args.name, out)
