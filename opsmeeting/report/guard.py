"""Rendering one item at a time: an unexpected error in one service's piece leaves that piece out with
a note, not the report; an error in a custom template names its file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError
from markupsafe import Markup

from opsmeeting.aggregate.model import ItemError
from opsmeeting.errors import InputError


class RenderGuard:
    """Renders one item's macro (a service's scorecard, its SLO rows, its ranking entry); an unexpected
    error leaves that item out with a visible note and is recorded, instead of ending the run. An
    error in a custom template (``output.templates_dir``) is the template's, not the data's: it is
    raised, so the CLI names the file."""

    def __init__(self, custom_dir: Path | None = None) -> None:
        self.custom_dir = custom_dir.resolve() if custom_dir else None
        self.errors: list[ItemError] = []

    def __call__(self, item: str, macro: Any, *args: Any, columns: int = 0, tag: str = "p") -> Markup:
        """``columns``: the item is table rows (the note is one row that wide); ``tag``: else its element."""
        try:
            return Markup(macro(*args))
        except Exception as exc:
            if self._from_custom_template(exc):
                raise
            error = ItemError(item=item, stage="rendering", error=f"{type(exc).__name__}: {str(exc)[:300]}")
            if error not in self.errors:
                self.errors.append(error)
            note = Markup("{} could not be shown ({}); its numbers are in scorecards.json.").format(
                item[:1].upper() + item[1:], type(exc).__name__)
            if columns:
                return Markup('<tr><td class="missing" colspan="{}">{}</td></tr>').format(columns, note)
            return Markup('<{0} class="missing">{1}</{0}>').format(Markup(tag if tag in ("p", "li") else "p"), note)

    def _from_custom_template(self, exc: BaseException) -> bool:
        return custom_template_frame(exc, self.custom_dir) is not None


def custom_template_frame(exc: BaseException, custom_dir: Path | None) -> tuple[Path, int] | None:
    """The innermost (file, line) of ``exc``'s traceback inside ``custom_dir`` (Jinja maps template
    frames to their file and line), or None when the error did not pass through a custom template."""
    if custom_dir is None:
        return None
    root = custom_dir.resolve()
    found = None
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name and not name.startswith("<") and Path(name).resolve().is_relative_to(root):
            found = (Path(name), tb.tb_lineno)
        tb = tb.tb_next
    return found


def template_problem(exc: TemplateError, custom_dir: Path | None) -> InputError | None:
    """An InputError naming the custom template (file and line) that ``exc`` comes from, or None
    when the error is not a custom template's (a bug of opsmeeting's own templates)."""
    if custom_dir is None:
        return None
    if isinstance(exc, TemplateSyntaxError) and exc.filename and Path(exc.filename).resolve().is_relative_to(
            custom_dir.resolve()):
        return InputError(f"{exc.filename}:{exc.lineno}: template syntax error: {exc.message}")
    where = custom_template_frame(exc, custom_dir)
    if isinstance(exc, TemplateNotFound):
        place = f"{where[0]}:{where[1]}" if where else str(custom_dir)
        return InputError(f"{place}: template {exc.name!r} not found (built-in templates are "
                          "'builtin/<name>', e.g. 'builtin/report.html.j2')")
    if where is not None:
        return InputError(f"{where[0]}:{where[1]}: template error: {exc.message or type(exc).__name__}")
    return None
