"""case.toml: load, validate, defaults.

One dispute is one folder holding `case.toml` and the screenshots. Everything in the
file except `[client]` is optional; see templates/case.toml for the commented version.
"""
from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .errors import CaseError

CASE_FILE = "case.toml"
DEFAULT_OUTPUT = "evidence.pdf"
KINDS = ("conversation", "site")
DOCUMENT_KINDS = ("invoice", "policy", "delivery", "other")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# Every table and key case.toml may hold, and the type of each value. Anything else is an
# error that suggests the nearest known name (`[dispte]` → `[dispute]`), because a typo
# silently ignored (`processer = "shopify"`) builds the wrong package. A new key is one
# line here; its meaning is parsed below (or by the module that owns it).
STR, STRS, DATE, NUMBER_OR_STR = "a string", "a list of strings", "a date", "a string or number"
STR_OR_STRS = "a list of strings (or one string)"
DATE_ORDERS = ("DMY", "MDY", "YMD")
SCHEMA: dict[str, dict[str, object]] = {
    "client": {"name": STR, "email": STR, "aliases": STRS, "emails": STRS},
    "dispute": {"id": STR, "processor": STR, "amount": NUMBER_OR_STR, "reason": STR,
                "respond_by": DATE, "ticket": STR},
    "package": {"output": STR, "page_size": STR, "date_order": DATE_ORDERS, "languages": STRS},
    "redact": {"patterns": STRS},
    "screenshot": {"file": STR, "note": STR, "highlight": STR, "kind": STR, "date": DATE,
                   "date_order": DATE_ORDERS, "proves": STR_OR_STRS},
    "document": {"file": STR, "kind": STR, "date": DATE, "note": STR, "proves": STR_OR_STRS,
                 "highlight": STR, "title": STR},
    "rebuttal": {"text": STR},
}
ARRAY_TABLES = {"screenshot", "document"}  # written [[screenshot]]: many of them


def _did_you_mean(name: str, known) -> str:
    near = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {near[0]!r}?" if near else f"; known: {', '.join(known)}"


def _belongs(key: str, not_in: str = "") -> str:
    """'; it belongs under [dispute]' when `key` is another table's key."""
    owner = next((t for t, keys in SCHEMA.items() if key in keys and t != not_in), None)
    if owner is None:
        return ""
    return f"; it belongs under [[{owner}]]" if owner in ARRAY_TABLES else f"; it belongs under [{owner}]"


def _type_ok(value, kind) -> bool:
    if kind is STR:
        return isinstance(value, str)
    if kind is STRS:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind is STR_OR_STRS:
        return isinstance(value, str) or _type_ok(value, STRS)
    if kind is DATE:
        return isinstance(value, (str, dt.date))
    if kind is NUMBER_OR_STR:
        return isinstance(value, (str, int, float)) and not isinstance(value, bool)
    if isinstance(kind, tuple):  # an enumeration, spelled in any case ("dmy" is DMY)
        return isinstance(value, str) and value.upper() in kind
    return True


def check_schema(data: dict, path: Path) -> None:
    """Raise CaseError for the first unknown table or key, or a value of the wrong type."""
    for table, body in data.items():
        if table not in SCHEMA:
            what = f"[{table}]" if isinstance(body, (dict, list)) else f"key {table!r}"
            hint = _did_you_mean(table, SCHEMA)
            if not isinstance(body, (dict, list)):  # a bare key: maybe it belongs in a table
                hint = _belongs(table) or hint
            raise CaseError(f"unknown {what} in case.toml{hint}", path)
        array = table in ARRAY_TABLES
        rows = body if array and isinstance(body, list) else [body]
        if array and not isinstance(body, list):
            raise CaseError(f"[[{table}]] must be written as [[{table}]] (an array of tables)", path)
        for i, row in enumerate(rows, 1):
            where = f"[[{table}]] #{i}" if array else f"[{table}]"
            if not isinstance(row, dict):
                raise CaseError(f"{where} must be a table", path)
            keys = SCHEMA[table]
            for key, value in row.items():
                if key not in keys:
                    raise CaseError(f"{where} has an unknown key {key!r}"
                                    + (_belongs(key, table) or _did_you_mean(key, keys)), path)
                kind = keys[key]
                if not _type_ok(value, kind):
                    want = (f"one of {', '.join(kind)}" if isinstance(kind, tuple) else kind)
                    raise CaseError(f"{where} {key} must be {want}, not {value!r:.60}", path)


@dataclass(frozen=True)
class Client:
    name: str
    email: str
    aliases: tuple[str, ...] = ()  # names the client's contact may be saved under
    emails: tuple[str, ...] = ()  # further addresses of the client

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def all_emails(self) -> tuple[str, ...]:
        return (self.email, *self.emails)


@dataclass(frozen=True)
class Dispute:
    id: str | None = None
    processor: str | None = None
    amount: str | None = None
    reason: str | None = None
    respond_by: dt.date | None = None
    ticket: str | None = None

    def to_json(self) -> dict:
        return {"id": self.id, "processor": self.processor, "amount": self.amount,
                "reason": self.reason, "ticket": self.ticket,
                "respond_by": self.respond_by.isoformat() if self.respond_by else None}


@dataclass(frozen=True)
class Entry:
    """One [[screenshot]] table: what the case says about one file."""

    file: str  # posix path relative to the case folder
    note: str | None = None
    highlight: str | None = None
    kind: str = "conversation"
    date: dt.datetime | None = None  # manual override
    date_order: str | None = None  # "DMY" | "MDY" | "YMD": how this app writes numeric dates
    proves: tuple[str, ...] = ()  # checklist items this exhibit covers (templates/reasons.toml)


@dataclass(frozen=True)
class DocumentEntry:
    """One [[document]] table: a PDF or scan that is not a screenshot (see documents.py)."""

    file: str
    kind: str = "other"  # one of DOCUMENT_KINDS
    note: str | None = None
    date: dt.datetime | None = None
    proves: tuple[str, ...] = ()
    title: str | None = None  # what people call it (the desk shows it); the file otherwise
    highlight: str | None = None  # accepted and kept; documents are not highlighted


@dataclass(frozen=True)
class Case:
    root: Path
    client: Client
    dispute: Dispute = field(default_factory=Dispute)
    entries: dict[str, Entry] = field(default_factory=dict)
    output: Path | None = None  # [package] output, resolved against root
    page_size: str | None = None  # [package] page_size
    redact_patterns: tuple[str, ...] = ()
    documents: dict[str, DocumentEntry] = field(default_factory=dict)  # [[document]]
    rebuttal: str | None = None  # [rebuttal] text: replaces the drafted letter
    date_order: str | None = None  # [package] date_order
    languages: tuple[str, ...] = ()  # [package] languages: () reads every supported one

    @property
    def default_output(self) -> Path:
        return self.output or self.root / DEFAULT_OUTPUT


def load_case(case_dir: Path | str) -> Case:
    """Read and validate `case_dir/case.toml`. Raises CaseError naming the file and problem."""
    root = Path(case_dir)
    if not root.is_dir():
        raise CaseError("not a case folder (no such directory)", root)
    path = root / CASE_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CaseError(f"no {CASE_FILE} here; create one with `evidence init {root}`", root) from None
    except OSError as e:
        raise CaseError(f"cannot read: {e.strerror or e}", path) from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise CaseError("not UTF-8 text", path) from None
    except tomllib.TOMLDecodeError as e:
        raise CaseError(f"TOML syntax error: {e}", path) from None
    return parse_case(data, root=root.resolve(), path=path)


def parse_case(data: dict, *, root: Path, path: Path) -> Case:
    check_schema(data, path)
    client = _table(data, "client", path, required=True)
    name = _str(client, "name", path, "client")
    email = _str(client, "email", path, "client")
    if not name:
        raise CaseError("[client] name is missing", path)
    if not email:
        raise CaseError("[client] email is missing", path)
    if not _EMAIL.match(email):
        raise CaseError(f"[client] email {email!r} is not an email address", path)

    d = _table(data, "dispute", path)
    respond_by = d.get("respond_by")
    if respond_by is not None:
        respond_by = _date(respond_by, path, "[dispute] respond_by")
        if isinstance(respond_by, dt.datetime):
            respond_by = respond_by.date()
    dispute = Dispute(
        id=_str(d, "id", path, "dispute"), processor=_str(d, "processor", path, "dispute"),
        amount=_str(d, "amount", path, "dispute", coerce=True),
        reason=_str(d, "reason", path, "dispute"), respond_by=respond_by,
        ticket=_str(d, "ticket", path, "dispute"))

    package = _table(data, "package", path)
    output = _str(package, "output", path, "package")
    page_size = _str(package, "page_size", path, "package")
    date_order = parse_date_order(package.get("date_order"), path, "[package]")
    languages = _str_list(package.get("languages"), path, "[package] languages")
    from .dates.names import LANGUAGES
    for lang in languages:
        if lang not in LANGUAGES:
            raise CaseError(f"[package] languages: {lang!r} is not one of "
                            f"{', '.join(LANGUAGES)}", path)
    aliases = _str_list(client.get("aliases"), path, "[client] aliases")
    emails = _str_list(client.get("emails"), path, "[client] emails")
    for e in emails:
        if not _EMAIL.match(e):
            raise CaseError(f"[client] emails: {e!r} is not an email address", path)

    redact = _table(data, "redact", path)
    patterns = redact.get("patterns", [])
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise CaseError("[redact] patterns must be a list of strings", path)
    for p in patterns:
        try:
            re.compile(p)
        except re.error as e:
            raise CaseError(f"[redact] pattern {p!r} is not a valid regex: {e}", path) from None

    entries = {rel: Entry(file=rel, note=_str(s, "note", path, where),
                          highlight=_str(s, "highlight", path, where), kind=kind, date=date,
                          proves=_proves(s, path, where),
                          date_order=parse_date_order(s.get("date_order"), path, where))
               for rel, kind, date, s, where in _array(data, "screenshot", KINDS, root, path,
                                                       default="conversation")}
    documents = {rel: DocumentEntry(file=rel, kind=kind, note=_str(d, "note", path, where),
                                    date=date, proves=_proves(d, path, where),
                                    title=_str(d, "title", path, where),
                                    highlight=_str(d, "highlight", path, where))
                 for rel, kind, date, d, where in _array(data, "document", DOCUMENT_KINDS,
                                                         root, path, default="other",
                                                         any_case=True)}
    rebuttal = _str(_table(data, "rebuttal", path), "text", path, "rebuttal")

    client_ = Client(name.strip(), email.strip(), tuple(a.strip() for a in aliases if a.strip()),
                     tuple(e.strip() for e in emails))
    return Case(root=root, client=client_, dispute=dispute,
                entries=entries, output=(root / output) if output else None,
                page_size=page_size, redact_patterns=tuple(patterns), documents=documents,
                date_order=date_order, languages=tuple(languages),
                rebuttal=rebuttal.strip() if rebuttal and rebuttal.strip() else None)


def parse_date_order(v, path: Path, where: str) -> str | None:
    """A date_order value, upper-cased; CaseError unless it is one of DATE_ORDERS."""
    if v is None:
        return None
    if not isinstance(v, str) or v.upper() not in DATE_ORDERS:
        raise CaseError(f"{where} date_order {v!r} is not one of {', '.join(DATE_ORDERS)}", path)
    return v.upper()


def _str_list(v, path: Path, what: str) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise CaseError(f"{what} must be a list of strings", path)
    return v


def _proves(t: dict, path: Path, where: str) -> tuple[str, ...]:
    v = t.get("proves", [])
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise CaseError(f"{where} proves must be a list of strings", path)
    return tuple(x.strip().lower() for x in v if x.strip())


def _array(data: dict, table: str, kinds: tuple[str, ...], root: Path, path: Path, *,
           default: str, any_case: bool = False):
    """Each [[screenshot]] or [[document]] table, checked alike: (file relative to the case,
    kind, manual date as a datetime, the table, where it is for messages)."""
    rows = data.get(table, [])
    if not isinstance(rows, list):
        raise CaseError(f"[[{table}]] must be an array of tables", path)
    seen: set[str] = set()
    for i, t in enumerate(rows, 1):
        where = f"[[{table}]] #{i}"
        if not isinstance(t, dict):
            raise CaseError(f"{where} is not a table", path)
        rel = inside_case(root, _str(t, "file", path, where) or "", path, where)
        kind = _str(t, "kind", path, where) or default
        kind = kind.lower() if any_case else kind
        if kind not in kinds:
            raise CaseError(f"{where} kind {kind!r} is not one of {', '.join(kinds)}", path)
        date = t.get("date")
        if date is not None:
            date = _date(date, path, f"{where} date")
            if not isinstance(date, dt.datetime):
                date = dt.datetime.combine(date, dt.time())
        if rel in seen:
            raise CaseError(f"{where} lists {rel} a second time", path)
        seen.add(rel)
        yield rel, kind, date, t, where


def inside_case(root: Path, file: str, path: Path, where: str) -> str:
    """Normalise a `file` entry to a posix path inside the case folder, or raise."""
    if not file:
        raise CaseError(f"{where} has no file", path)
    p = PurePosixPath(file.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts:
        raise CaseError(f"{where} file {file!r} points outside the case folder", path)
    resolved = Path(os.path.realpath(root / p))  # realpath: a link loop must not raise
    if not resolved.is_relative_to(root):
        raise CaseError(f"{where} file {file!r} points outside the case folder", path)
    return unicodedata.normalize("NFC", p.as_posix())


def _table(data: dict, key: str, path: Path, required: bool = False) -> dict:
    t = data.get(key)
    if t is None:
        if required:
            raise CaseError(f"[{key}] table is missing", path)
        return {}
    if not isinstance(t, dict):
        raise CaseError(f"[{key}] must be a table", path)
    return t


def _str(t: dict, key: str, path: Path, where: str, coerce: bool = False) -> str | None:
    v = t.get(key)
    if v is None:
        return None
    if coerce and isinstance(v, (int, float)):
        return str(v)
    if not isinstance(v, str):
        raise CaseError(f"[{where}] {key} must be a string", path)
    return v


def _date(v, path: Path, what: str) -> dt.date | dt.datetime:
    if isinstance(v, (dt.date, dt.datetime)):
        return v
    if isinstance(v, str):
        try:
            return dt.datetime.fromisoformat(v) if "T" in v or " " in v.strip() else dt.date.fromisoformat(v)
        except ValueError:
            pass
    raise CaseError(f"{what} {v!r} is not a date (write it as 2024-10-10)", path)
