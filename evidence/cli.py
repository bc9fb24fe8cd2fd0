"""Thin click commands. The library raises; this module alone turns errors into exit codes."""
from __future__ import annotations

import functools
import math
import json
import os
import sys
import time
from pathlib import Path

import click

from . import __version__
from .errors import EvidenceError, ExitCode, one_line


def _json_error(code: int, kind: str, message: str, args: list[str] | None = None,
                **extra) -> None:
    """Under --json, every exit has a JSON object on stdout, errors included."""
    if "--json" in (sys.argv[1:] if args is None else args):
        click.echo(json.dumps({"ok": False, "exit_code": int(code), "error": kind,
                               "message": message, **extra}, ensure_ascii=False))


def _error_json(e: EvidenceError, args: list[str] | None = None) -> None:
    if not getattr(e, "json_shown", False):
        _json_error(e.exit_code, type(e).__name__, one_line(e.message), args,
                    file=str(e.path) if e.path is not None else None,
                    details=list(getattr(e, "details", [])))
        e.json_shown = True


class _Group(click.Group):
    """Under --json, a command that fails still prints its JSON object on stdout."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["evidence.argv"] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        args = ctx.meta.get("evidence.argv", [])
        try:
            return super().invoke(ctx)
        except EvidenceError as e:
            _error_json(e, args)
            raise


def main() -> None:
    try:
        code = cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        _json_error(ExitCode.interrupted, "interrupted", "interrupted")
        click.echo("interrupted", err=True)
        sys.exit(ExitCode.interrupted)
    except click.ClickException as e:
        _json_error(ExitCode.bad_input, "usage", one_line(e.format_message()))
        e.show()
        sys.exit(ExitCode.bad_input)
    except EvidenceError as e:
        _error_json(e)
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:  # a bug: one line for users, the traceback on request
        if os.environ.get("EVIDENCE_DEBUG"):
            raise
        _json_error(ExitCode.bad_input, "internal", one_line(f"{e.__class__.__name__}: {e}"))
        click.echo(one_line(f"internal error: {e.__class__.__name__}: {e} ")
                   + "(set EVIDENCE_DEBUG=1 for the traceback, and please report it)", err=True)
        sys.exit(ExitCode.bad_input)
    # without standalone mode, click returns the code a command exited with
    sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="evidence")
def cli() -> None:
    """Turn a folder of conversation screenshots into one chargeback-ready evidence PDF."""


ENGINE = click.option("--engine", type=click.Choice(["rapidocr", "easyocr"]), default="rapidocr",
                      show_default=True, help="OCR engine (easyocr needs the [easyocr] extra).")
JOBS = click.option("-j", "--jobs", type=click.IntRange(1, 64),
                    help="OCR worker processes (default: one per core).")
CACHE_DIR = click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
                         help="Cache folder: OCR results in ocr/, encoded images in fit/ "
                              "(default: the user's cache dir, honours XDG_CACHE_HOME).")
BROKER = click.option("--broker", metavar="URL",
                      help="Send OCR and build work to `evidence worker`s through this Redis "
                           "(redis://HOST:6379/0) instead of the local pool.")


def ocr_options(f):
    @ENGINE
    @CACHE_DIR
    @click.option("--no-cache", is_flag=True, help="Do not read or write the caches.")
    @JOBS
    @functools.wraps(f)
    def wrapper(*args, engine, cache_dir, no_cache, jobs, **kw):
        from .pipeline import Options
        opts = Options(engine=engine, cache_dir=cache_dir, use_cache=not no_cache, workers=jobs,
                       progress=Progress())
        return f(*args, options=opts, **kw)
    return wrapper


class Progress:
    """Progress on stderr, shown only once work has taken more than a moment: a bar
    redrawn in place on a terminal, else (a log, a pipe) one line every `every` seconds."""

    def __init__(self, delay: float = 1.0, every: float = 5.0):
        self.start = time.monotonic()
        self.delay = delay
        self.every = every
        self.last = -math.inf  # the first line as soon as the delay has passed
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.start < self.delay:
            return
        if not sys.stderr.isatty():
            if now - self.last >= self.every or (done >= total and self.shown):
                self.shown, self.last = True, now
                sys.stderr.write(f"OCR {done}/{total} screenshots read "
                                 f"({now - self.start:.0f} s)\n")
                sys.stderr.flush()
            return
        self.shown = True
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\rOCR [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


@cli.command()
@click.argument("case_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="The client's name as it appears in the conversation.")
@click.option("--email", help="The client's email address.")
@click.option("--force", is_flag=True, help="Overwrite an existing case.toml.")
def init(case_dir: Path, name: str | None, email: str | None, force: bool) -> None:
    """Create a case folder: case.toml (from the template) and screenshots/."""
    import tomli_w

    import tomllib

    from .case import CASE_FILE, load_case, parse_case
    from .errors import CaseError
    from .ingest import SCREENSHOT_DIR
    from .output import atomic_write_bytes
    from .resources import template_text

    target = case_dir / CASE_FILE
    if target.exists() and not force:
        raise click.UsageError(f"{target} already exists, so this case is set up: edit it, "
                               f"run `evidence check {case_dir}`, or start over with --force")
    name = name if name is not None else click.prompt("Client name")
    email = email if email is not None else click.prompt("Client email")
    template = template_text("case.toml")
    client = tomli_w.dumps({"client": {"name": name.strip(), "email": email.strip()}})
    text = template.replace("{client}", client)
    # Validate what would be written before writing it: a bad email or an empty name is
    # refused here with the reason, and no broken case.toml is left behind.
    try:
        parse_case(tomllib.loads(text), root=case_dir.resolve(), path=target)
    except CaseError as e:
        raise click.UsageError(f"{e.message}; nothing written (pass --name and --email "
                               "as the conversation shows them)") from None
    (case_dir / SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, text.encode("utf-8"))
    load_case(case_dir)  # the file we wrote must load; raises with the reason otherwise
    click.echo(f"created {target}; put screenshots in {case_dir / SCREENSHOT_DIR}/ "
               f"then run `evidence check {case_dir}`")


@cli.command()
@click.argument("case_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report on stdout.")
@ocr_options
def check(case_dir: Path, as_json: bool, options) -> None:
    """Check that every screenshot shows a date, the client's name and email."""
    from . import pipeline, report

    result = pipeline.check(case_dir, options)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(report.check_table(result))
    for p in result.problems:
        click.echo(f"error: {p}", err=True)
    for c in result.checks:
        if c.error:
            click.echo(f"error: {c.error}", err=True)
    for p in result.skipped:
        click.echo(f"skipped: {p}", err=True)
    raise click.exceptions.Exit(ExitCode.ok if result.ok else ExitCode.check_failed)


@cli.command("rebuttal")
@click.argument("case_dir", type=click.Path(file_okay=False, path_type=Path))
@ocr_options
def rebuttal_command(case_dir: Path, options) -> None:
    """Print the rebuttal letter the package would carry (the draft, or rebuttal.md /
    [rebuttal] text when the case has one), to edit into CASE/rebuttal.md."""
    from . import pipeline, rebuttal

    report = pipeline.check(case_dir, options)
    exhibits = report.exhibits()
    letter = rebuttal.letter(report.case, report.reason, exhibits, report.checklist(exhibits),
                             always=True)
    click.echo(letter.text, nl=False)
    click.echo(f"({letter.words} words; from {letter.source})", err=True)


class SizeType(click.ParamType):
    name = "size"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        from .units import parse_size
        try:
            return parse_size(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


SIZE = SizeType()


def warn(message: str) -> None:
    click.echo(one_line(f"warning: {message}"), err=True)


@cli.command()
@click.argument("case_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the package (default: [package] output, else evidence.pdf in the case).")
@click.option("--max-size", type=SIZE, help="Size cap: bytes, or 4.5MB, 4MiB (default: the processor's).")
@click.option("--max-pages", type=click.IntRange(1, 10_000), help="Page cap (default: the processor's).")
@click.option("--processor", help="Processor preset: stripe, shopify, adyen, braintree, paypal, … (default: [dispute] processor).")
@click.option("--page-size", type=click.Choice(["letter", "a4"], case_sensitive=False),
              help="Page size (default: the processor's, else letter).")
@click.option("--draft", is_flag=True, help="Build even if checks fail; every page is stamped DRAFT.")
@click.option("--keep-duplicates", is_flag=True, help="Keep screenshots that duplicate an earlier one.")
@click.option("--redact-keep-last4", is_flag=True, help="Leave the last four digits of card numbers visible.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@BROKER
@ocr_options
def build(case_dir: Path, output, max_size, max_pages, processor, page_size, draft,
          keep_duplicates, redact_keep_last4, as_json, broker, options) -> None:
    """Build the evidence PDF: sorted, annotated, under the processor's caps."""
    from . import pipeline
    from .units import format_size

    opts = pipeline.BuildOptions(**vars(options), output=output, draft=draft,
                                 processor=processor, max_size=max_size, max_pages=max_pages,
                                 page_size=page_size, keep_duplicates=keep_duplicates,
                                 keep_last4=redact_keep_last4, warn=warn)
    if broker:
        from .runners import get_runner
        result = get_runner(broker).build(case_dir, opts)
    else:
        result = pipeline.build(case_dir, opts)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        kind = "DRAFT " if result.draft else ""
        click.echo(one_line(f"wrote {kind}{result.output}: {result.exhibits} exhibits, "
                            f"{result.pages} pages, {format_size(result.bytes)} (cap "
                            f"{format_size(result.limits.max_bytes)}, {result.limits.max_pages} pages)"))
        for r in result.redacted:
            click.echo(one_line(f"redacted {r['what']} in {r['source']}"))
        if result.failed:
            click.echo(one_line(f"{len(result.failed)} screenshot(s) failed their checks: "
                                + ", ".join(result.failed)))
        for u in result.unused:
            click.echo(one_line(f"not used: {u['file']}: {u['reason']}"))


@cli.command("watch")
@click.argument("root", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--once", is_flag=True,
              help="Build every case once its files are still, then exit: 0 if all built, 1 otherwise.")
@click.option("--draft", is_flag=True, help="Build drafts (screenshots failing checks are kept and marked).")
@click.option("--poll", is_flag=True, help="Poll instead of file events (network drives, containers).")
@click.option("--debounce", type=click.FloatRange(0.05, 60), default=1.0, show_default=True,
              metavar="SECONDS", help="How long files must be still before a rebuild.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Package path (only when DIR is one case folder).")
@ENGINE
@CACHE_DIR
@JOBS
@click.option("--processor", help="Processor preset (default: each case's [dispute] processor).")
@click.option("--max-size", type=SIZE, help="Size cap: bytes, or 4.5MB, 4MiB (default: the processor's).")
@click.option("--max-pages", type=click.IntRange(1, 10_000), help="Page cap (default: the processor's).")
@BROKER
def watch_command(root: Path, once: bool, draft: bool, poll: bool, debounce: float,
                  output: Path | None, engine: str, cache_dir: Path | None, jobs: int | None,
                  processor: str | None, max_size: int | None, max_pages: int | None,
                  broker: str | None) -> None:
    """Rebuild each case's package when its screenshots, notes or case.toml change.

    DIR is a case folder or a folder of case folders. One line per build on stdout;
    status on stderr. Ctrl-C exits 130; SIGTERM exits 0 (abandoning a build in progress).
    """
    from . import pipeline
    from .runners import get_runner
    from .watch import Watcher, serve

    # Bad options are refused now, exit 2, as build refuses them; not logged on every rebuild.
    if processor:
        from .presets import get_preset
        get_preset(processor)
    # The OCR cache stays on: it is what makes a rebuild read only new screenshots.
    options = dict(output=output, draft=draft, engine=engine, cache_dir=cache_dir, use_cache=True,
                   workers=jobs, processor=processor, max_size=max_size, max_pages=max_pages)
    runner = get_runner(broker)  # with --broker: Redis and a worker must answer now

    def builder(case_dir: Path):
        return runner.build(case_dir, pipeline.BuildOptions(**options))

    if output is not None and not (root / "case.toml").is_file():
        raise click.UsageError("-o/--output needs DIR to be one case folder (it holds case.toml)")
    watcher = Watcher(root, builder, debounce=debounce, poll=poll, output=output, cache_dir=cache_dir)
    raise click.exceptions.Exit(serve(watcher, once=once))


@cli.command("worker")
@click.option("--broker", metavar="URL", required=True,
              help="The Redis every worker and client shares: redis://HOST:6379/0.")
@click.option("-c", "--concurrency", type=click.IntRange(1, 64),
              help="Tasks run at once (default: one per core).")
@click.option("-n", "--hostname", help="This worker's name in logs (default: evidence.PID@HOST).")
@CACHE_DIR
@click.option("--visibility-timeout", type=click.FloatRange(2, 86_400), default=300,
              show_default=True, metavar="SECONDS",
              help="After this long, a task whose worker died runs on another worker; "
                   "keep it above the longest build.")
def worker_command(broker: str, concurrency: int | None, hostname: str | None,
                   cache_dir: Path | None, visibility_timeout: float) -> None:
    """Run OCR and build tasks sent with --broker (Celery over Redis). One line per task
    on stdout: time, worker, task, case, file, seconds, result. Case folders and the
    cache must be on a path every worker and client mounts at the same place."""
    from .ocr import default_workers
    from .runners import require_celery
    require_celery()
    from .runners.tasks import run_worker

    raise click.exceptions.Exit(run_worker(
        broker, concurrency=concurrency or default_workers(), hostname=hostname,
        cache_dir=cache_dir, visibility_timeout=visibility_timeout))


@cli.command("validate")
@click.argument("packages", metavar="PACKAGE.pdf...", nargs=-1, required=True,
                type=click.Path(dir_okay=True, path_type=Path))
@click.option("--processor", help="Check against this processor's caps (default: the one in the manifest).")
@click.option("--max-size", type=SIZE, help="Size cap: bytes, or 4.5MB, 4MiB.")
@click.option("--max-pages", type=click.IntRange(1, 100_000), help="Page cap.")
@click.option("--case", "case_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Case folder: check that no source changed or is missing since the build.")
@click.option("--deep", is_flag=True, help="Render and OCR every page: are date, name and email legible?")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report on stdout.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a self-contained HTML report with page thumbnails.")
@click.option("--client-name", help="Client name for --deep (default: the manifest's or the case's).")
@click.option("--client-email", help="Client email for --deep (default: the manifest's or the case's).")
@ENGINE
@JOBS
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), hidden=True)
def validate_command(packages, processor, max_size, max_pages, case_dir, deep, as_json, html_path,
                     client_name, client_email, engine, jobs, today) -> None:
    """Check finished packages before upload: readable, under the caps, no active content,
    pages unchanged since the build, in date order, fields legible, deadline.

    Exit status: 0 all pass (warnings allowed), 1 a check failed, 2 a file cannot be read.
    """
    from . import report as tables
    from .validate import ValidateOptions, validate

    opts = ValidateOptions(processor=processor, max_size=max_size, max_pages=max_pages,
                           case_dir=case_dir, deep=deep, client_name=client_name,
                           client_email=client_email, engine=engine, workers=jobs,
                           today=today.date() if today else None, thumbnails=html_path is not None,
                           progress=Progress() if deep else None)
    result = validate(packages, opts)
    if html_path is not None:
        from .validate.html import write_html
        write_html(html_path, result)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        blocks = []
        for r in result.packages:
            rows = [[c.id, c.status.upper() if not c.ok else c.status, c.detail] for c in r.checks]
            text = r.summary() + "\n" + tables.table(["check", "verdict", "detail"], rows)
            if deep and r.pages:
                def mark(v):
                    return "n/a" if v is None else ("yes" if v else "NO")
                page_rows = [[str(p.page), str(p.exhibit or "-"), p.source or "-", p.date or "-",
                              mark(p.name), mark(p.email), "; ".join(p.problems) or p.image]
                             for p in r.pages if p.ocr]
                if page_rows:
                    text += "\n\n" + tables.table(["page", "exhibit", "source", "date", "name",
                                                   "email", "notes"], page_rows)
            blocks.append(text)
        click.echo("\n\n".join(blocks))
        if len(result.packages) > 1:
            click.echo("\n" + "\n".join(r.summary() for r in result.packages))
        if html_path is not None:
            click.echo(f"wrote {html_path}")
    raise click.exceptions.Exit(int(result.exit_code))


# ------------------------------------------------------------------ the dispute desk

DATA_DIR = click.option("--data", "data", type=click.Path(file_okay=False, path_type=Path),
                        default=Path("desk-data"), show_default=True,
                        help="Folder for the desk's cases, database and caches.")
DATABASE_URL = click.option("--database-url", envvar="EVIDENCE_DATABASE_URL",
                            help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db "
                                 "(default: SQLite in the data folder).")


@cli.command("serve")
@DATA_DIR
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@DATABASE_URL
@click.option("--job-workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Background job processes (OCR, build, validate).")
@ENGINE
@BROKER
def serve_command(data, host, port, database_url, job_workers, engine, broker) -> None:
    """The team's dispute desk in the browser: http://HOST:PORT/."""
    from .desk.server import serve
    serve(data, host, port, database_url, job_workers, engine, broker)


@cli.group("users")
def users_group() -> None:
    """Manage the desk's accounts."""


@users_group.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "developer"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@DATA_DIR
@DATABASE_URL
def users_add(email, role, password_stdin, data, database_url) -> None:
    """Add a desk account (asks for the password)."""
    from .desk.server import add_user
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        added = add_user(data, database_url, email, role, password)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    click.echo(f"added {added} ({role})")


if __name__ == "__main__":
    main()
