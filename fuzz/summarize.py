"""Summarise a fuzz/run.sh NDJSON report: requests per operation, generation mode and status, the
commonest error details, and every check failure (also the ones hooks.py dropped).

    fuzz/.venv/bin/python fuzz/summarize.py [NDJSON file...]   (default: every one under fuzz/report/)
"""

from __future__ import annotations

import base64
import collections
import glob
import json
import os
import re
import sys


def _body(raw):
    if not raw:
        return None
    if "$base64" in raw:
        text = base64.b64decode(raw["$base64"]).decode("utf-8", "replace")
    else:
        text = raw.get("string", "")
    try:
        return json.loads(text)
    except ValueError:
        return text


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    # fuzz/run.sh empties fuzz/report/ first, so what is there is one run (unit/ and stateful/).
    paths = sys.argv[1:] or sorted(glob.glob(os.path.join(here, "report", "**", "ndjson-*.ndjson"), recursive=True))
    if not paths:
        sys.exit("no NDJSON report found")
    statuses: collections.Counter = collections.Counter()
    details: collections.Counter = collections.Counter()
    failures: collections.Counter = collections.Counter()
    dropped_by: collections.Counter = collections.Counter()
    dropped = 0
    cases = 0
    for path in paths:
        for line in open(path, encoding="utf-8"):
            event = json.loads(line)
            scenario = event.get("ScenarioFinished")
            if not scenario:
                continue
            rec = scenario["recorder"]
            phase = scenario["phase"]
            filtered = rec.get("filtered_failures", {})
            dropped += sum(filtered.values())
            for case_id, case in rec.get("cases", {}).items():
                value = case["value"]
                interaction = rec.get("interactions", {}).get(case_id)
                if not interaction or not interaction.get("response"):
                    continue
                cases += 1
                mode = (value.get("meta") or {}).get("generation", {}).get("mode", "?")
                label = f"{value['method']} {value['path']}"
                response = interaction["response"]
                code = response["status_code"]
                statuses[(label, phase, mode, code)] += 1
                body = _body(response.get("content"))
                if isinstance(body, dict) and isinstance(body.get("error"), dict):
                    detail = str(body["error"].get("details", ""))
                    # Fold the echoed value so similar details group together.
                    detail = re.sub(r"'[^']*'", "'…'", detail)[:110]
                    details[(label, mode, code, body["error"].get("reason"), detail)] += 1
                    if case_id in filtered:
                        dropped_by[(label, code, detail)] += filtered[case_id]
            for case_id, checks in rec.get("checks", {}).items():
                for check in checks:
                    if check["status"] == "failure":
                        failures[(rec["label"], check["name"])] += 1
    print(f"{cases} requests with responses\n")
    print("operation / phase / mode / status: count")
    for key, n in sorted(statuses.items()):
        print(f"  {' / '.join(map(str, key))}: {n}")
    print("\ncommonest error details (operation, mode, status, reason, details): count")
    for key, n in details.most_common(40):
        print(f"  {key}: {n}")
    print("\nfailed checks (operation, check): count")
    for key, n in sorted(failures.items()):
        print(f"  {key}: {n}")
    print(f"\nfailures dropped by hooks.py filter_failure: {dropped}")
    for key, n in dropped_by.most_common():
        print(f"  {key}: {n}")


if __name__ == "__main__":
    main()
