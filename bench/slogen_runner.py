"""Google's slo-generator 2.6.0 computing a directory of SLO configs, as its ``compute`` command does.

Runs in slo-generator's own virtualenv (``bench/.venv-slogen``: it pins old dependencies), so it
imports nothing from opsmeeting. It does what ``slo-generator compute -f SLO_DIR -c CONFIG`` does
(load the shared config, load every SLO config of the folder, ``compute()`` each in turn, no
export) and times it in-process, after its imports. Every HTTP request it makes goes through
``requests.get`` (``prometheus_http_client``), which is wrapped to count them.

    python bench/slogen_runner.py --slos DIR --config FILE --result OUT.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slos", required=True, help="folder of ServiceLevelObjective YAML files")
    parser.add_argument("--config", required=True, help="slo-generator's shared configuration")
    parser.add_argument("--result", required=True)
    args = parser.parse_args()

    began_imports = time.perf_counter()
    import requests

    counter = {"requests": 0}
    original_get = requests.get

    def counting_get(*a: Any, **k: Any) -> Any:
        counter["requests"] += 1
        return original_get(*a, **k)

    requests.get = counting_get  # type: ignore[assignment]
    from slo_generator import utils
    from slo_generator.compute import compute

    imports_s = time.perf_counter() - began_imports
    began = time.perf_counter()
    config = utils.load_config(args.config)
    slo_configs = utils.load_configs(args.slos, kind="ServiceLevelObjective")
    results: dict[str, Any] = {}
    for slo_config in slo_configs:
        reports = compute(slo_config, config)  # the pinned time is in each filter (`@ <end>`)
        report = reports[0] if reports else {}
        results[slo_config["metadata"]["name"]] = {
            "valid": bool(report.get("valid")),
            "good": report.get("good_events_count"),
            "bad": report.get("bad_events_count"),
            "sli_measurement": report.get("sli_measurement"),
            "error_budget_burn_rate": report.get("error_budget_burn_rate"),
            "errors": report.get("errors", []),
        }
    wall = time.perf_counter() - began
    Path(args.result).write_text(json.dumps({
        "compute_wall_s": wall, "imports_s": imports_s, "requests": counter["requests"],
        "slos": len(slo_configs), "results": results,
    }))


if __name__ == "__main__":
    main()
