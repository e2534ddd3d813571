"""Email delivery: a short multipart summary with the PDF pre-read attached, over SMTP.

STARTTLS, SSL or plain; credentials from environment variables; a timeout on every call. The
mailer is passed in (``send``) so tests use a real SMTP server on loopback.
"""

from __future__ import annotations

import functools
import smtplib
import ssl
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import cast

from jinja2 import Environment, PackageLoader, StrictUndefined

from opsmeeting.aggregate.model import Scorecards
from opsmeeting.config import Email
from opsmeeting.errors import OpsMeetingError
from opsmeeting.report.summary import data_quality, summary_lines


class DeliveryError(OpsMeetingError):
    pass


@functools.cache
def _templates() -> Environment:
    return Environment(loader=PackageLoader("opsmeeting", "templates"), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def build_message(config: Email, cards: Scorecards, pdf: Path, *, link: str | None, title: str,
                  corrected: bool = False) -> EmailMessage:
    """The pre-read email from what rendering wrote (the scorecards and the PDF). A corrected one says
    so in its subject and first line: an earlier email of this window had incomplete numbers."""
    warnings = [w.text for w in data_quality(cards)]
    message = EmailMessage()
    window_text = cards.window.label()
    message["Subject"] = (("Corrected: " if corrected else "") + config.subject.format(window=window_text)
                          + (" (provisional)" if cards.window.provisional else ""))
    message["From"] = config.sender
    message["To"] = ", ".join(config.recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=config.sender.split("@", 1)[1])
    lines = summary_lines(cards, warnings, link)
    if corrected:
        lines = ["Corrected report: it replaces the one sent earlier for this window, which was made while a "
                 "source was missing or incomplete.", "", *lines]
    message.set_content("\n".join([title, "", *lines]) + "\n")
    html = _templates().get_template("email.html.j2").render(title=title, lines=lines, link=link)
    message.add_alternative(html, subtype="html")
    message.add_attachment(pdf.read_bytes(), maintype="application", subtype="pdf",
                           filename=f"ops-meeting-{cards.window.slug}.pdf")
    return message


def send(config: Email, message: EmailMessage, environ: Mapping[str, str],
         connect: Callable[..., smtplib.SMTP] | None = None) -> None:
    """Send ``message``; raise DeliveryError with a one-line reason (never the password)."""
    username = password = None
    if config.username_env:
        username = environ.get(config.username_env)
        password = environ.get(config.password_env or "")
        if not username or not password:
            missing = config.username_env if not username else config.password_env
            raise DeliveryError(f"email: the environment variable ${missing} is not set")
    timeout = config.timeout.total_seconds()
    try:
        if config.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(config.smtp_host, config.smtp_port, timeout=timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = (connect or smtplib.SMTP)(config.smtp_host, config.smtp_port, timeout=timeout)
        with smtp:
            if config.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if username and password:
                smtp.login(username, password)
            refused = smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        # smtplib's replies are bytes (typeshed allows str too)
        reason = (cast(bytes, exc.smtp_error).decode(errors="replace")
                  if isinstance(exc, smtplib.SMTPResponseException) else exc)
        raise DeliveryError(f"email via {config.smtp_host}:{config.smtp_port} failed: {reason}") from None
    if refused:
        raise DeliveryError(f"email: refused for {', '.join(sorted(refused))}")
