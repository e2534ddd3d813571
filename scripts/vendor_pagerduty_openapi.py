#!/usr/bin/env python3
"""Cut PagerDuty's OpenAPI document down to what the test fake validates against, and record where it came from.

    python scripts/vendor_pagerduty_openapi.py /path/to/openapiv3.json [--check]

The original is ``reference/REST/openapiv3.json`` of https://github.com/PagerDuty/api-schema, e.g.
https://raw.githubusercontent.com/PagerDuty/api-schema/91a06fb3c64b0ab2b2bd6c485d12b327dfb55c18/reference/REST/openapiv3.json
That repository has no licence, so only the part ``tests/fakes/pagerduty.py`` needs is kept:
``openapi``, ``info``, ``servers``, ``security``, the GET operations of ``PATHS`` (with path-level
parameters) and every component reachable from them through ``$ref``, transitively. Prose
(``description``, ``summary``, ``externalDocs``) is left out wherever it is an annotation, and so are
examples (``KEEP_EXAMPLES``); property names, enums and defaults stay as they are. A Response's required
``description`` becomes ``""``. Writes ``tests/fakes/openapi/pagerduty-openapi-subset.json`` and
``PROVENANCE.md`` beside it; ``--check`` only says whether they are up to date (exit 1 if not).
Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import deque
from pathlib import Path
from typing import Any

# GET operations kept: those the fake serves, and a few for upcoming endpoints.
SERVED = (
    "/abilities",
    "/incidents",
    "/incidents/{id}/log_entries",
    "/log_entries",
    "/maintenance_windows",
    "/priorities",
    "/schedules",
    "/schedules/{id}",
    "/services",
    "/teams",
    "/users",
    "/users/me",
)
UPCOMING = (
    "/escalation_policies",
    "/escalation_policies/{id}",
    "/oncalls",
    "/services/{id}",
    "/teams/{id}",
    "/users/{id}",
)
PATHS = SERVED + UPCOMING
# Components kept even if no kept operation reaches them: those corrected_spec() in tests/fakes/pagerduty.py
# changes by name (all are reachable today; listed so dropping a path cannot break a correction).
EXTRA_ROOTS = (
    "#/components/schemas/AcknowledgeLogEntry",
    "#/components/schemas/Channel",
    "#/components/schemas/Incident",
    "#/components/schemas/LogEntry",
    "#/components/schemas/Oncall",
)

SOURCE_REPOSITORY = "https://github.com/PagerDuty/api-schema"
SOURCE_PATH = "reference/REST/openapiv3.json"
SOURCE_COMMIT = "91a06fb3c64b0ab2b2bd6c485d12b327dfb55c18"
SOURCE_COMMIT_DATE = "2026-08-14"
SOURCE_SHA256 = "b2e80f8b83b170f29702e96a69adf230702b4ec43dddab7e348a2985c707ef35"

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "tests" / "fakes" / "openapi"
SUBSET = OUT_DIR / "pagerduty-openapi-subset.json"
PROVENANCE = OUT_DIR / "PROVENANCE.md"
COMMAND = "python scripts/vendor_pagerduty_openapi.py /path/to/openapiv3.json"

# Examples are data the validator never reads; True keeps them (a third of the subset's size).
KEEP_EXAMPLES = False

PROSE = frozenset({"description", "summary"})  # dropped where they are annotations and hold text
DROPPED = frozenset({"externalDocs"} if KEEP_EXAMPLES else {"externalDocs", "example", "examples", "x-examples"})
# Keys whose dict value maps names (property names, status codes, media types...) to objects: a child
# named "description" there is a name, not prose, and is kept.
NAME_MAPS = frozenset(
    {
        "properties",
        "patternProperties",
        "responses",
        "content",
        "headers",
        "encoding",
        "links",
        "callbacks",
        "examples",
        "variables",
        "mapping",
        "scopes",
    }
)
# Keys whose value is data (instances, not schema): copied untouched.
DATA = frozenset({"example", "examples", "default", "enum", "const", "value", "required"})


def strip(node: Any, counts: dict[str, int], *, names: bool = False) -> Any:
    """``node`` without prose annotations; ``names``: its keys are names, each value an object."""
    if isinstance(node, list):
        return [strip(item, counts) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if names:
            out[key] = strip(value, counts)
        elif (key in PROSE and isinstance(value, str)) or key in DROPPED:
            counts[key] = counts.get(key, 0) + 1
        elif key in NAME_MAPS and isinstance(value, dict):
            out[key] = strip(value, counts, names=True)
            if key == "responses":  # OpenAPI 3.0 requires a Response's description
                for response in out[key].values():
                    if isinstance(response, dict) and "$ref" not in response:
                        response["description"] = ""
        elif key in DATA or key.startswith("x-"):
            out[key] = value
        else:
            out[key] = strip(value, counts)
    return out


def refs_in(node: Any) -> set[str]:
    """Every ``$ref`` string anywhere in ``node``."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("$ref"), str):
                found.add(item["$ref"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def component_of(ref: str) -> tuple[str, str]:
    """``#/components/<section>/<name>[/...]`` as (section, name); a deeper pointer keeps its whole component."""
    parts = ref.split("/")
    if len(parts) < 4 or parts[:2] != ["#", "components"]:
        raise SystemExit(f"unsupported $ref {ref!r}: only #/components/<section>/<name> is handled")
    return parts[2], parts[3].replace("~1", "/").replace("~0", "~")


def resolve(document: Any, ref: str) -> Any:
    node = document
    for part in ref.removeprefix("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def subset(original: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """The subset document and how many prose fields were dropped, by key."""
    counts: dict[str, int] = {}
    missing = [path for path in PATHS if "get" not in original["paths"].get(path, {})]
    if missing:
        raise SystemExit(f"no GET operation in the document for: {', '.join(missing)}")
    out: dict[str, Any] = {
        key: strip(original[key], counts) for key in ("openapi", "info", "servers", "security") if key in original
    }
    paths: dict[str, Any] = {}
    for path in PATHS:
        item = original["paths"][path]
        paths[path] = strip({k: item[k] for k in ("get", "parameters", "servers") if k in item}, counts)
    out["paths"] = paths

    components: dict[str, dict[str, Any]] = {}
    source = original.get("components", {})
    queue = deque(sorted(refs_in(paths) | refs_in(out.get("servers")) | set(EXTRA_ROOTS)))
    while queue:
        section, name = component_of(queue.popleft())
        if name in components.get(section, {}):
            continue
        if name not in source.get(section, {}):
            raise SystemExit(f"dangling $ref: #/components/{section}/{name} is not in the document")
        kept = strip(source[section][name], counts)
        if section == "responses" and isinstance(kept, dict) and "$ref" not in kept:
            kept["description"] = ""
        components.setdefault(section, {})[name] = kept
        queue.extend(sorted(refs_in(kept)))

    schemes = set()
    for requirements in [out.get("security", [])] + [item["get"].get("security", []) for item in paths.values()]:
        for requirement in requirements:
            schemes.update(requirement)
    for name in sorted(schemes):
        if name not in source.get("securitySchemes", {}):
            raise SystemExit(f"security names the undeclared scheme {name!r}")
        components.setdefault("securitySchemes", {})[name] = strip(source["securitySchemes"][name], counts)
    out["components"] = components

    for ref in sorted(refs_in(out)):  # every pointer resolves in the subset, deep ones included
        try:
            resolve(out, ref)
        except (KeyError, IndexError, ValueError):
            raise SystemExit(f"$ref {ref!r} does not resolve in the subset") from None
    return out, counts


def provenance(original: dict[str, Any], raw: bytes, digest: str, kept: dict[str, Any], counts: dict[str, int]) -> str:
    source = original.get("components", {})
    operations = sum(1 for item in original["paths"].values() for op in item if op in _METHODS)
    sections = sorted(set(source) | set(kept["components"]))
    rows = "\n".join(f"| {s} | {len(kept['components'].get(s, {}))} | {len(source.get(s, {}))} |" for s in sections)
    paths = "\n".join(f"  - `GET {path}`" + ("" if path in SERVED else " (not served by the fake yet)")
                      for path in PATHS)
    cut = ", ".join(f"{counts[key]:,} `{key}`" for key in sorted(counts))
    mismatch = (
        ""
        if digest == SOURCE_SHA256
        else f"\n**WARNING: this input's SHA-256 is not the one of the commit above ({SOURCE_SHA256}).** "
        "It is some other version of the document: update `SOURCE_COMMIT`, `SOURCE_COMMIT_DATE` and "
        "`SOURCE_SHA256` in the script.\n"
    )
    return f"""# PagerDuty OpenAPI subset: provenance

`pagerduty-openapi-subset.json` is generated by `scripts/vendor_pagerduty_openapi.py` from PagerDuty's
REST API v2 OpenAPI document. `tests/fakes/pagerduty.py` validates every request and response of the
fake PagerDuty against it (`$OPSMEETING_PAGERDUTY_OPENAPI` can point it at the full original instead).
Do not edit it by hand: change the script and regenerate.

## Source

- Repository: {SOURCE_REPOSITORY}
- Path: `{SOURCE_PATH}`
- Commit: `{SOURCE_COMMIT}` ({SOURCE_COMMIT_DATE})
- URL: https://raw.githubusercontent.com/PagerDuty/api-schema/{SOURCE_COMMIT}/{SOURCE_PATH}
- SHA-256 of the original: `{digest}`
- Size of the original: {len(raw):,} bytes; `openapi: {original.get("openapi")}`, `info.version: \
{original.get("info", {}).get("version")}`, {len(original["paths"])} paths, {operations} operations,
  {len(source.get("schemas", {}))} component schemas.
{mismatch}
## Licence

The source repository has no LICENSE file (at this commit or in its history), and the document's
`info` has no `license`. So there is no licence to copy, and this repository keeps only the part
its tests need, not the document.

## What was kept

- `openapi`, `info` (without its description), `servers`, `security`.
- The GET operation of these {len(PATHS)} paths, with path-level parameters:
{paths}
- Every component reachable through `$ref` from them, transitively (a pointer into a component keeps
  the whole component), the corrected components `corrected_spec()` names (`EXTRA_ROOTS`), and the
  security schemes that `security` names:

| components section | kept | in the original |
|---|---:|---:|
{rows}

## What was cut

- The other {len(original["paths"]) - len(PATHS)} paths, and every non-GET operation of the kept ones
  ({operations - len(PATHS)} operations cut in all).
- Top-level `tags`, and wherever they annotate an object (an operation, parameter, schema,
  response...; a property of that name stays), prose and examples:
  {cut}. A Response's required `description` is `""`.
- Every component no kept operation reaches.

Nothing that affects validation was changed: apart from the annotations above, schemas, parameters,
responses, headers, `x-` extensions, enums and defaults are copied as they are.

## Regenerate

```sh
curl -fsSLo /tmp/openapiv3.json \\
  https://raw.githubusercontent.com/PagerDuty/api-schema/{SOURCE_COMMIT}/{SOURCE_PATH}
{COMMAND.replace("/path/to/openapiv3.json", "/tmp/openapiv3.json")}
```

To keep another path, add it to `PATHS` in the script and regenerate. `--check` tells whether the files
are up to date.
"""


_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0], usage=f"{COMMAND} [--check]")
    parser.add_argument("original", type=Path, help=f"{SOURCE_PATH} of {SOURCE_REPOSITORY}")
    parser.add_argument("--check", action="store_true", help="only compare with the files in the repository")
    args = parser.parse_args(argv)

    raw = args.original.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SOURCE_SHA256:
        bar = "!" * 78
        print(
            f"{bar}\nWARNING: {args.original} is not the document of commit {SOURCE_COMMIT}:\n"
            f"  SHA-256 {digest}\n  expected {SOURCE_SHA256}\nThe subset is built anyway; "
            f"PROVENANCE.md says so. Update SOURCE_* in {Path(__file__).name}.\n{bar}",
            file=sys.stderr,
        )
    original = json.loads(raw)
    kept, counts = subset(original)
    files = {
        SUBSET: json.dumps(kept, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
        PROVENANCE: provenance(original, raw, digest, kept, counts),
    }
    if args.check:
        stale = [p for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale else 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    schemas = len(kept["components"].get("schemas", {}))
    print(
        f"{SUBSET.relative_to(ROOT)}: {SUBSET.stat().st_size:,} bytes, {len(kept['paths'])} paths, "
        f"{schemas} schemas (original {len(raw):,} bytes, sha256 {digest})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
