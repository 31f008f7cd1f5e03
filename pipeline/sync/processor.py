"""The processor: one change in, the writes for every route out (dedup, transform, echo, conflict).

`Processor.process(change)` reads and updates the tables it is given as plain mappings (see
pipeline/sync/record_state.py) and returns a `Processed` with what the agent must produce. The dedup
fingerprints of accepted changes stay unconfirmed (seen by the next changes, not yet in the
table) until the round loop confirms them once Kafka acknowledged their writes. It
does no Kafka I/O; it awaits the Zoho clients only for field metadata and users (cached by the
clients).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from connectors.zoho import RetryableError
from orgsync_kernel.events import Change, Write, link_key, record_key, split_key
from orgsync_kernel.settings import ModuleRoute, Route, Settings
from pipeline.mapping.transforms import (
    MissingParent,
    Rejected,
    TargetRecord,
    match_uses_source_id,
    transform,
)
from pipeline.sync.contexts import Contexts
from pipeline.sync.dedup import Fingerprint, Verdict, decide
from pipeline.sync.divergence import Divergence
from pipeline.sync.loops import LoopGuard
from pipeline.sync.metadata import Metadata
from pipeline.sync.record_state import (
    Conflict,
    changed_fields,
    is_stale,
    observe,
    side,
    written,
)
from pipeline.sync.routing import Routing
from pipeline.sync.versions import Side, Version, dump_sides, load_sides, seconds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rejection:
    route: str
    reason: str
    code: str = "REJECTED"


@dataclass
class Processed:
    writes: list[Write] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    missing_parents: dict[str, str] = field(default_factory=dict)  # link key -> parent record key
    drops: Counter[str] = field(default_factory=Counter)
    deferred: list[str] = field(default_factory=list)  # routes whose target is unreachable now
    conflicts: list[tuple[str, Conflict]] = field(default_factory=list)  # (route, conflict)
    dropped_lookups: list[tuple[str, str]] = field(default_factory=list)  # (route, field)
    # The change's new dedup fingerprints, unconfirmed until `writes` are in Kafka.
    fingerprints: dict[str, Any] | None = None
    # Two-way: target record key -> what `writes` will put there, until the round landed.
    planned: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Two-way writes into records whose state is on another worker's partition, for that
    # worker to decide (`Processor.decide`): all mapped fields, with their versions.
    proposals: list[Write] = field(default_factory=list)


class Processor:
    def __init__(
        self,
        settings: Settings,
        metadata: Metadata,
        fingerprints: MutableMapping[str, Any],
        links: Mapping[str, str],
        states: MutableMapping[str, Any],
        holds: Callable[[str], bool] = lambda key: True,
    ) -> None:
        """`holds(key)`: whether the record state of `key` is this worker's (its partition
        is); a two-way write into a record that is not goes to its worker to be decided."""
        self.settings = settings
        self.holds = holds
        self.metadata = metadata
        self.fingerprints = fingerprints
        self.links = links
        self.states = states
        self.guard = LoopGuard()
        self.divergence = Divergence()
        self._unconfirmed: dict[str, dict[str, Any]] = {}
        self._planned: dict[str, dict[str, Any]] = {}
        self.routing = Routing(settings)
        self.contexts = Contexts(settings, metadata, links)

    def routes_for(self, change: Change) -> list[Route]:
        """The routes that sync `change`'s module from its org."""
        return self.routing.routes(change.org, change.module)

    async def process(self, change: Change, fresh: bool | None = None) -> Processed:
        """The writes of `change`; `fresh`: what `observe(change)` answered, when the caller
        observed it already (a round observes all its changes before it routes any)."""
        out = Processed()
        routes = self.routes_for(change)
        if not routes:
            out.drops["unrouted"] += 1
        elif change.operation == "delete":
            self._deletes(change, routes, out)
        elif self.observe(change) if fresh is None else fresh:
            await self._upserts(change, routes, out)
        else:
            out.drops["stale"] += 1
        return out

    def observes(self, change: Change) -> bool:
        """Whether the change's org is one that routes write into (its records keep states)."""
        return change.org in self.routing.targets

    def observe(self, change: Change) -> bool:
        """Record the change in `record_state` when its org is a target (two-way); False: stale."""
        if not self.observes(change) or change.operation == "delete":
            return True
        previous = self.states.get(change.key)
        if is_stale(previous, change.modified_time):
            return False
        kept = self.routing.kept(change.org, change.module)
        self.states[change.key], edited = observe(
            previous, change.record, change.modified_time, change.org, kept
        )
        if edited and self.guard.edited(change.key, edited, self._partners(change)):
            log.warning(
                "quarantined key=%s fields=%s: edited again and again right after orgsync "
                "wrote them (a value Zoho stores otherwise than written?); not written for "
                "%.0fs",
                change.key,
                ",".join(sorted(edited)),
                self.guard.quarantine,
            )
        return True

    def _partners(self, change: Change) -> list[str]:
        """The records `change`'s record is linked with in the orgs its routes write to."""
        found = []
        for route in self.routes_for(change):
            target_id = self.links.get(link_key(change.org, change.module, change.id, route.target))
            if target_id is not None:
                found.append(
                    record_key(route.target, route.target_module(change.module), target_id)
                )
        return found

    def _deletes(self, change: Change, routes: list[Route], out: Processed) -> None:
        self._unconfirmed.pop(change.key, None)
        self.fingerprints.pop(change.key, None)
        for route in routes:
            target_id = self.links.get(link_key(change.org, change.module, change.id, route.target))
            mapping = route.modules[change.module]
            if not mapping.delete or target_id is None:
                out.drops["delete_not_synced"] += 1
                continue
            out.writes.append(
                Write(
                    route=route.name,
                    target_org=route.target,
                    target_module=route.target_module(change.module),
                    source_org=change.org,
                    source_module=change.module,
                    source_id=change.id,
                    operation="delete",
                    record={},
                    match_field=mapping.match_field,
                    content_hash="",
                    modified_time=None,
                    target_id=target_id,
                )
            )

    async def _upserts(self, change: Change, routes: list[Route], out: Processed) -> None:
        previous = self._unconfirmed.get(change.key) or self.fingerprints.get(change.key) or {}
        stored = dict(previous)
        for route in routes:
            write = await self._route(change, route, stored, out)
            if write is not None:
                out.writes.append(write)
        if stored != previous:
            out.fingerprints = self._unconfirmed[change.key] = stored

    def confirm(self, confirmed: Mapping[str, dict[str, Any]]) -> None:
        """Store these fingerprints (a round's `Processed.fingerprints`, per change key) once
        Kafka acknowledged their writes. Queued is not enough: the producer batches per
        partition, so a fingerprint can reach the changelog before a write queued ahead of it,
        and a worker killed in between would drop the replay as a duplicate: the change lost."""
        for key, fingerprints in confirmed.items():
            self.fingerprints[key] = fingerprints
            if self._unconfirmed.get(key) is fingerprints:  # no later round changed them since
                del self._unconfirmed[key]

    def discard_unconfirmed(self) -> None:
        """The writes of the unconfirmed changes may not be in Kafka: forget them (replayed)."""
        self._unconfirmed.clear()
        self._planned.clear()

    def landed(self, planned: Mapping[str, dict[str, Any]]) -> None:
        """A round's writes are done and in the record states: forget what it planned (not
        what a later round planned over it since)."""
        for key, fields in planned.items():
            if self._planned.get(key) is fields:
                del self._planned[key]

    async def _route(
        self, change: Change, route: Route, stored: dict[str, Any], out: Processed
    ) -> Write | None:
        mapping = route.modules[change.module]
        try:
            context = await self.contexts.get(route, change.module)
        except RetryableError:  # the target's metadata is out of reach: try this route later
            out.deferred.append(route.name)
            return None
        result = transform(change.record, mapping, context)
        if isinstance(result, Rejected):
            out.rejected.append(Rejection(route.name, result.reason, result.code))
            return None
        if isinstance(result, MissingParent):
            for parent in result.parents:
                key = link_key(route.source, parent.module, parent.source_id, route.target)
                out.missing_parents[key] = record_key(route.source, parent.module, parent.source_id)
            return None
        out.dropped_lookups += [(route.name, name) for name in result.dropped]
        previous = stored.get(route.name)
        digest = result.content_hash  # a property that hashes the whole record: once
        decision = decide(
            Fingerprint.from_dict(previous) if previous else None,
            Fingerprint(change.modified_time, digest),
        )
        if decision.store is not None:
            stored[route.name] = decision.store.to_dict()
            if result.dropped:  # kept with the fingerprint so that `orgsync trace` shows them
                stored[route.name]["dropped_lookups"] = list(result.dropped)
        forced = change.force and decision.verdict is Verdict.DUPLICATE
        if not decision.accept and not forced:
            out.drops[decision.verdict.value] += 1
            return None
        return self._write(change, route, result, digest, stored.get(route.name), out)

    def _write(
        self,
        change: Change,
        route: Route,
        result: TargetRecord,
        digest: str,
        fingerprint: dict[str, Any] | None,
        out: Processed,
    ) -> Write | None:
        """The write of an accepted change on `route`, or None when it would change nothing
        (or when the worker of its target record decides it: `Processed.proposals`)."""
        target_id = self.target_id(change, route)
        # Two-way: the target's records keep states and may echo. Otherwise nothing ever
        # stores a state of the target's records (only the sink of a route back, and changes
        # of an org that routes read do), so there is nothing to look up or to guard.
        two_way = route.target in self.routing.sources
        sides = self._sides(change, route.modules[change.module], result.data) if two_way else {}
        write = Write(
            route=route.name,
            target_org=route.target,
            target_module=result.module,
            source_org=change.org,
            source_module=change.module,
            source_id=change.id,
            operation="upsert",
            record=result.data,
            match_field=result.match_field,
            content_hash=digest,
            modified_time=change.modified_time,
            target_id=target_id,
        )
        known = write.target_key if two_way and target_id else None
        if known and not change.force and not self.holds(known):
            write.versions = dump_sides(sides)  # every field's: its worker decides which win
            out.proposals.append(write)
            return None
        return self._decided(write, known, sides, change.force, fingerprint, out)

    def decide(self, proposed: Write) -> Processed:
        """A write proposed by the worker of its source record (`Processed.proposals`) into
        a record whose state is here: what of it to write (the target was read and observed
        this round)."""
        out = Processed()
        sides = load_sides(proposed.versions)
        decided = self._decided(proposed, proposed.target_key, sides, False, None, out)
        if decided is not None:
            out.writes.append(decided)
        return out

    def _decided(
        self,
        write: Write,
        known: str | None,
        sides: dict[str, Side],
        force: bool,
        fingerprint: dict[str, Any] | None,
        out: Processed,
    ) -> Write | None:
        """`write` as it goes out: only the fields worth writing into `known` (the target
        record's key when it keeps a state, two-way), or None when nothing is."""
        if write.target_id and self.guard.quarantined(write.target_key):
            out.drops["quarantined"] += 1
            return None
        route = self.routing.named[write.route]
        mapping = route.modules[write.source_module]
        # Written by id: the match field is stamped when a record is created, never into the
        # record it names (the original, on the way back).
        by_id = write.target_id and match_uses_source_id(mapping, write.target_module)
        match_field = None if by_id else write.match_field
        conflicts: list[Conflict] = []
        lost: list[str] = []
        data = self._changed(write, known, match_field, sides, force, conflicts, lost)
        if known:
            copied = self.routing.copied_back(route, write.source_module, lost)
            self.divergence.compared(write.key, known, write.record, copied)
        self._report(route, conflicts, fingerprint, out)
        if not data:
            out.drops["echo"] += 1
            return None
        if known:
            self.guard.wrote(known, data)
            self._plan(known, data, sides)
            out.planned[known] = self._planned[known]
        # in place, not `derive` (a fifth of a record's CPU): the write is this call's own
        write.record = data
        write.versions = dump_sides({n: sides[n] for n in data if n in sides}) if sides else None
        return write

    def _changed(
        self,
        write: Write,
        target_key: str | None,
        match_field: str | None,
        sides: dict[str, Side],
        force: bool,
        conflicts: list[Conflict],
        lost: list[str],
    ) -> dict[str, Any] | None:
        """What to write of the mapped record: everything when forced or the target record
        keeps no state, else the fields whose incoming version wins (record_state); those
        that differ and lose are added to `lost`."""
        target_state = self._with_planned(target_key)
        data = dict(write.record)
        if match_field is None:  # written by id: the match field is never part of it
            data.pop(write.match_field, None)
        if force or target_state is None:
            return data
        policy = self.routing.policy(self.routing.named[write.route], write.source_module)
        return changed_fields(
            data, match_field, target_state, sides, write.target_org, policy, conflicts, lost
        )

    def _with_planned(self, target_key: str | None) -> dict[str, Any] | None:
        """The target record's state as it will be once the writes already decided for it
        (this round or one still landing) are made: a decision sees those before it."""
        if target_key is None:
            return None
        state, planned = self.states.get(target_key), self._planned.get(target_key)
        if not planned or not state:
            return state
        data = {name: value for name, (value, _) in planned.items()}
        sides = {name: side for name, (_, side) in planned.items() if side is not None}
        return written(state, data, None, split_key(target_key)[0], sides)

    def _plan(self, target_key: str, data: Mapping[str, Any], sides: dict[str, Side]) -> None:
        """Remember a decided two-way write until its round landed (`landed`)."""
        planned = {
            **self._planned.get(target_key, {}),
            **{n: (data[n], sides.get(n)) for n in data},
        }
        self._planned[target_key] = planned  # a new dict: an earlier round's `landed` keeps it

    def _report(
        self,
        route: Route,
        conflicts: list[Conflict],
        fingerprint: dict[str, Any] | None,
        out: Processed,
    ) -> None:
        """Conflicts go out to be logged and counted, and stay with the change's fingerprint
        so that `orgsync trace` shows them."""
        out.conflicts += [(route.name, conflict) for conflict in conflicts]
        if conflicts and fingerprint is not None:
            fingerprint["conflicts"] = [f"{c.field} kept {c.winner}" for c in conflicts]

    def target_id(self, change: Change, route: Route) -> str | None:
        """The target record of `change` on `route`: its link, or, for a record that a route
        back created (it holds its original's id in that route's match field), the original."""
        linked = self.links.get(link_key(change.org, change.module, change.id, route.target))
        if linked is not None:
            return linked
        back = self.routing.back(route, change.module)
        if back is None or not match_uses_source_id(back, change.module):
            return None
        origin = change.record.get(back.match_field)
        return str(origin) if isinstance(origin, str | int) and str(origin) else None

    def _sides(
        self, change: Change, mapping: ModuleRoute, data: Mapping[str, Any]
    ) -> dict[str, Side]:
        """Per mapped field, the version of the value the change carries and its base: from
        the source record's state (two-way), else the change's own Modified_Time."""
        state = self.states.get(change.key)
        at = seconds(change.modified_time) if change.modified_time else 0
        fallback = Side(Version(at, 0, change.org))
        source_of = {mapping.target_field(n): n for n in change.record}
        sides: dict[str, Side] = {}
        for name in data:
            found = side(state, source_of.get(name, name), change.org)
            sides[name] = found if found.version is not None else fallback
        return sides
