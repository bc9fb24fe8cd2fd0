"""Moved to `evidence.validate.html`; this name stays so older imports keep working."""
from .validate.html import CSP, render_html, write_html  # noqa: F401
