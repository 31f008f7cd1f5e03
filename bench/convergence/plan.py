"""What one seed does, decided up front from `random.Random(seed)`: the orgs and their two-way
routes, the records each org creates, every edit (when, where, which field, which value) and
the moment the worker is killed. Pure: the same seed gives the same plan on any machine.

Values are unique per write (`<org>-<seq>`, phones `+<org number>-<seq>`), so a final value
names the edit it came from.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from bench.deployment import ORIGIN

MODULE = "Leads"
FIELDS = ("Last_Name", "Company", "Phone", "Description", "Lead_Status")
EDITED = ("Company", "Phone", "Description", "Lead_Status")


@dataclass(frozen=True)
class Topology:
    """Orgs joined by two-way legs (each leg is two routes, one each way)."""

    name: str
    orgs: tuple[tuple[str, str], ...]  # (name, data centre)
    legs: tuple[tuple[str, str], ...]
    match_field: str
    key_field: str  # identifies a logical record in every org; never edited
    synced: tuple[str, ...]  # copied both ways on every leg
    edited: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.orgs)

    def routes(self) -> list[dict[str, Any]]:
        module = {"match_field": self.match_field, "fields": list(self.synced)}
        return [
            {"source": source, "target": target, "modules": {MODULE: dict(module)}}
            for a, b in self.legs
            for source, target in ((a, b), (b, a))
        ]

    def key_of(self, org: str, n: int) -> str:
        if self.key_field == "Email":
            return f"{org}.lead{n}@example.com"
        return f"{org}-lead-{n}"


# (a) docs/zoho-setup.md §3: an external-id field on each side, the source id as match value.
TWO_ORGS = Topology(
    name="two_orgs",
    orgs=(("alpha", "in"), ("beta", "us")),
    legs=(("alpha", "beta"),),
    match_field=ORIGIN,
    key_field="Last_Name",
    synced=FIELDS,
    edited=EDITED,
)
# (b) a hub and spoke on a natural key: alpha <-> beta <-> gamma.
HUB = Topology(
    name="hub",
    orgs=(("alpha", "in"), ("beta", "us"), ("gamma", "eu")),
    legs=(("alpha", "beta"), ("beta", "gamma")),
    match_field="Email",
    key_field="Email",
    synced=(*FIELDS, "Email"),
    edited=("Last_Name", *EDITED),
)
SCENARIOS = {topology.name: topology for topology in (TWO_ORGS, HUB)}


@dataclass(frozen=True)
class Size:
    records_per_org: int = 8
    edit_seconds: float = 15.0
    edits_per_second: float = 3.5
    converge_within_s: float = 90.0
    quiet_s: float = 10.0


# CI: about 45 s a seed once orgsync converges (~95 s when it does not); the issue promises
# convergence within 60 s with orgsync's default poller, and CI polls every 5 s.
CI_SIZE = Size(converge_within_s=60.0)


@dataclass(frozen=True)
class Chaos:
    """The faults: conflicting edits, and what happens to each notification."""

    conflict_share: float = 1 / 3  # of the edits: the same field in two orgs within pair_gap_s
    pair_gap_s: float = 1.0
    drop: float = 0.2
    duplicate: float = 0.1
    delay: float = 0.1
    delay_s: tuple[float, float] = (1.0, 5.0)


@dataclass(frozen=True)
class Creation:
    org: str
    key: str
    values: dict[str, str]


@dataclass(frozen=True)
class PlannedEdit:
    at: float  # seconds after the first edit
    org: str
    key: str
    field: str
    value: str
    pair: int | None  # same-field edits in two orgs share a pair number


@dataclass(frozen=True)
class Plan:
    seed: int
    topology: Topology
    creations: tuple[Creation, ...]
    edits: tuple[PlannedEdit, ...]
    kill_at: float  # seconds after the first edit

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.creations)


def value_of(topology: Topology, field: str, org: str, seq: int) -> str:
    if field == "Phone":
        return f"+{topology.names.index(org) + 1}-{seq}"
    return f"{org}-{seq}"


def creations(topology: Topology, size: Size) -> tuple[Creation, ...]:
    made, seq = [], 0
    for org in topology.names:
        for n in range(size.records_per_org):
            key = topology.key_of(org, n)
            values = {topology.key_field: key}
            for field in topology.synced:
                if field != topology.key_field:
                    seq += 1
                    values[field] = value_of(topology, field, org, seq)
            made.append(Creation(org, key, values))
    return tuple(made)


def make_plan(topology: Topology, size: Size, chaos: Chaos, seed: int) -> Plan:
    rng = random.Random(seed)
    made = creations(topology, size)
    slots = _edit_slots(rng, topology, [c.key for c in made], size, chaos)
    first_seq = len(made) * len(topology.synced)
    edits = tuple(
        PlannedEdit(at, org, key, field, value_of(topology, field, org, first_seq + n), pair)
        for n, (at, org, key, field, pair) in enumerate(sorted(slots, key=lambda s: s[0]), 1)
    )
    kill_at = rng.uniform(0.25, 0.75) * size.edit_seconds
    return Plan(seed, topology, made, edits, kill_at)


Slot = tuple[float, str, str, str, int | None]


def _edit_slots(
    rng: random.Random, topology: Topology, keys: list[str], size: Size, chaos: Chaos
) -> list[Slot]:
    """Edit moments as a Poisson process; a share of them are pairs (two orgs, one field).
    With pairs drawn at p = s / (2 - s), pair edits are the share s of all edits."""
    p_pair = chaos.conflict_share / (2 - chaos.conflict_share)
    rate = size.edits_per_second / (1 + p_pair)
    slots: list[Slot] = []
    at, pairs = rng.expovariate(rate), 0
    while at < size.edit_seconds:
        key, field = rng.choice(keys), rng.choice(topology.edited)
        if rng.random() < p_pair:
            first, second = rng.sample(topology.names, 2)
            slots.append((at, first, key, field, pairs))
            slots.append((at + rng.uniform(0, chaos.pair_gap_s), second, key, field, pairs))
            pairs += 1
        else:
            slots.append((at, rng.choice(topology.names), key, field, None))
        at += rng.expovariate(rate)
    return slots
