"""The package's arrows point one way: each unit (a top-level module or subpackage of opsmeeting) may
import only the units below it (docs/ARCHITECTURE.md draws them). Every import counts, also those
inside functions and under ``TYPE_CHECKING``."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "opsmeeting"

BASE = {"errors", "timefmt", "durations", "fsutil", "names", "memory"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(), "timefmt": set(), "durations": set(), "fsutil": set(), "names": set(), "memory": set(),
    "window": {"errors", "timefmt"},
    "model": {"window"},
    "config": {*BASE, "model", "window"},
    "store": {*BASE, "window"},
    "collectors": {*BASE, "model", "window", "config"},
    "aggregate": {*BASE, "model", "window", "store"},
    "meeting": {*BASE, "model", "window", "config", "store", "aggregate"},
    "snapshot": {*BASE, "model", "window", "collectors"},
    "discovery": {*BASE, "model", "window", "config"},
    "report": {*BASE, "model", "window", "aggregate", "meeting"},
    "delivery": {*BASE, "config", "aggregate", "report"},
    "pipeline": {*BASE, "model", "window", "config", "collectors", "discovery", "aggregate", "meeting", "report"},
    "runner": {*BASE, "model", "window", "config", "store", "aggregate", "meeting", "snapshot", "report",
               "delivery", "pipeline"},
    "serve": {*BASE, "config", "store", "meeting"},
    "cli": {"", *BASE, "model", "window", "config", "store", "collectors", "discovery", "aggregate", "meeting",
            "snapshot", "report", "delivery", "pipeline", "runner", "serve"},
    "__main__": {"cli"},
    "": set(),  # opsmeeting/__init__.py: the version only
}


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("opsmeeting")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("opsmeeting"):
            if node.module != "opsmeeting":
                found.add(node.module)
                continue
            for alias in node.names:  # from opsmeeting import x: x is a unit, or the package's own name
                found.add("opsmeeting" if alias.name == "__version__" else f"opsmeeting.{alias.name}")
    return found


def test_every_unit_is_placed():
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").is_file())) and p.name != "__init__.py"}
    assert units <= set(ALLOWED), f"place these in ALLOWED and docs/ARCHITECTURE.md: {sorted(units - set(ALLOWED))}"


def test_imports_point_down_only():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(relative.parts).removesuffix(".__init__")
        own = unit_of(module)
        for target in imports(path):
            other = unit_of(target)
            if other != own and other not in ALLOWED[own]:
                wrong.append(f"{module} imports {target} ({own or 'opsmeeting'} → {other or 'opsmeeting'})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_the_allowed_arrows_have_no_cycle():
    seen: dict[str, int] = {}

    def visit(unit: str, path: tuple[str, ...]) -> None:
        assert unit not in path, f"cycle: {' → '.join((*path, unit))}"
        if seen.get(unit):
            return
        for below in ALLOWED[unit]:
            visit(below, (*path, unit))
        seen[unit] = 1

    for unit in ALLOWED:
        visit(unit, ())


def test_vendor_vocabulary_stays_in_its_collector():
    """PagerDuty's words (log-entry types, agent references, notification channels) appear in
    collectors/pagerduty/ only: aggregation and rendering read the source-neutral model."""
    words = ("user_reference", "service_reference", "log_entry", "sms_notification", "phone_notification")
    leaks = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "collectors/pagerduty" in path.as_posix():
            continue
        text = path.read_text(encoding="utf-8")
        leaks += [f"{path.relative_to(PACKAGE)}: {w}" for w in words if w in text]
    assert not leaks, leaks
