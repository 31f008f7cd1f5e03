"""The randomized convergence harness of issue 25: two-way routes between emulated orgs, random
edits in every org (a third of them the same field in two orgs within a second), lossy
notifications, a `kill -9` of the worker; then whether every org holds the same values, the
later edit kept, every record once, the DLQ empty and orgsync quiet.

    plan.py     what a seed does: the orgs and routes, the records, the edits, the kill (pure)
    verdict.py  what the orgs hold at the end, judged against the edits made (pure)
    chaos.py    the notifier that drops, duplicates and delays Zoho's notifications
    run.py      one seed against real orgsync processes, the emulator and a broker

The reliability test (tests/integration/reliability/test_convergence.py) runs three seeds;
`make converge SEEDS=20` (bench/converge.py) runs more and writes bench/results/converge.json.
"""

from __future__ import annotations

from bench.convergence.plan import CI_SIZE, HUB, SCENARIOS, TWO_ORGS, Chaos, Size, Topology
from bench.convergence.run import FAST_POLLER, Setup, emulator_orgs, run_seed
from bench.convergence.verdict import RunResult

__all__ = [
    "CI_SIZE",
    "FAST_POLLER",
    "HUB",
    "SCENARIOS",
    "TWO_ORGS",
    "Chaos",
    "RunResult",
    "Setup",
    "Size",
    "Topology",
    "emulator_orgs",
    "run_seed",
]
