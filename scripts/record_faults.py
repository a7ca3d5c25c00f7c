"""Record what the lab server answers under injected faults, for lesson 09's graded fallback exercise.

Two providers on the lab server, each with its own key and its own faults (``X-Rightsize-Faults``):
``primary`` is rate limited (3 requests a minute, 429 with retry-after) and sometimes unavailable
(503), ``secondary`` is sometimes overloaded (529). Each gets the same short prompt, in turn, and
every outcome (the real answer, or the error with its status and retry-after) is saved to
``src/rightsize/data/faults/lab-faults.jsonl``; :class:`rightsize.routing.fault_replay.ReplayedProvider`
plays them back.

    python scripts/record_faults.py [--attempts 12]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import rightsize as rs
from rightsize.routing.fault_replay import record_outcomes, save_outcomes

ROOT = Path(__file__).resolve().parent.parent
FAULTS = {
    "primary": "rpm=3,unavailable_rate=0.3,seed=11",
    "secondary": "overloaded_rate=0.3,seed=12",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=12)
    parser.add_argument("--out", type=Path, default=ROOT / "src" / "rightsize" / "data" / "faults" / "lab-faults.jsonl")
    args = parser.parse_args()
    rs.lab_url()
    providers = {name: rs.connect("lab", key=f"record-faults-{name}", headers={"X-Rightsize-Faults": faults})
                 for name, faults in FAULTS.items()}
    outcomes = record_outcomes(providers, "Reply with the single word OK.", args.attempts, max_tokens=4, temperature=0)
    note = "lab server (SmolLM2-135M-Instruct) with injected faults: " + "; ".join(f"{k}: {v}" for k, v in FAULTS.items())
    save_outcomes(outcomes, args.out, note=note)
    for outcome in outcomes:
        print(f"{outcome.provider:9} {outcome.kind:12} {outcome.status or '':>4} "
              f"retry-after={outcome.retry_after} {outcome.text!r}")
    print(f"saved {len(outcomes)} outcomes to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
