"""Which value of a field wins on two-way routes, decided the same way everywhere (pure).

Every field of a record in an org that orgsync writes into carries the *version* of the value
it holds: (second, tick, origin org).

- A genuine edit (a value orgsync did not write) gets a version strictly after the one it
  replaced: its record's Modified_Time, or, when that is not later (the same second, or a
  clock behind), the replaced version's second with the next tick. It is a hybrid logical
  clock: an edit made after a value arrived always beats that value.
- A value orgsync writes carries the version of the value it copies, through every hop of a
  hub and spoke.
- Versions are totally ordered (`newer`): the later second, then the higher tick, then the
  origin org whose name sorts first.

A write is made only when the incoming version beats the target's, and a version never goes
down, so each field behaves as a last-writer-wins register: once edits stop, every org holds
the value of the greatest version, whatever the topology and the order in which changes,
echoes and retries arrive. The policies `source_wins` and `target_wins` change only what a
*conflict* decides: two edits neither of which was made on top of the other (`base`, the
version an edit replaced, tells).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orgsync_kernel.events import parse_instant


@dataclass(frozen=True)
class Version:
    at: int  # whole seconds since the epoch (Zoho's Modified_Time has one-second resolution)
    tick: int
    org: str

    def encode(self, own: str) -> list[Any]:
        """Compact JSON: the origin is left out when it is the record's own org."""
        return [self.at, self.tick] if self.org == own else [self.at, self.tick, self.org]

    @classmethod
    def decode(cls, value: Any, own: str) -> Version | None:
        if not isinstance(value, list) or len(value) < 2:
            return None
        return cls(int(value[0]), int(value[1]), str(value[2]) if len(value) > 2 else own)


def seconds(modified_time: str) -> int:
    return int(parse_instant(modified_time).timestamp())


def newer(a: Version, b: Version) -> bool:
    """Whether `a` beats `b` (see the module docstring)."""
    if (a.at, a.tick) != (b.at, b.tick):
        return (a.at, a.tick) > (b.at, b.tick)
    return a.org < b.org


def after(previous: Version | None, at: int, org: str) -> Version:
    """The version of a genuine edit made at `at` in `org` over a value of `previous`."""
    if previous is None or at > previous.at:
        return Version(at, 0, org)
    return Version(previous.at, previous.tick + 1, org)


@dataclass(frozen=True)
class Side:
    """One side of a decision: the version of a field's value and the version it replaced."""

    version: Version | None
    base: Version | None = None


def on_top_of(edit: Side, other: Version) -> bool:
    """The edit was made over `other`'s value, or over a later one."""
    return edit.base is not None and not newer(other, edit.base)


@dataclass(frozen=True)
class Outcome:
    write: bool  # the incoming value replaces the target's
    conflict: bool  # both were edited, neither over the other


def decide(incoming: Side, target: Side, policy: str = "latest") -> Outcome:
    """Whether an incoming value replaces the target's; `policy` settles conflicts only.

    Under `latest` the answer is the order of versions alone (an edit made over a value is
    newer than it by construction), so the two directions of a pair can never both keep
    their own value; bases only tell a conflict (for the log and the other policies)."""
    if target.version is None or incoming.version is None:
        return Outcome(write=True, conflict=False)
    if incoming.version == target.version:
        return Outcome(write=False, conflict=False)
    later = newer(incoming.version, target.version)
    if on_top_of(incoming, target.version) or on_top_of(target, incoming.version):
        sequential = on_top_of(incoming, target.version)
        return Outcome(write=later if policy == "latest" else sequential, conflict=False)
    wins = {"source_wins": True, "target_wins": False}.get(policy, later)
    return Outcome(write=wins, conflict=True)


def dump_sides(sides: dict[str, Side]) -> dict[str, Any]:
    """The versions a write copies, per field, as a `Write` carries them (origins spelled out)."""
    return {
        name: [s.version.encode(""), s.base.encode("") if s.base else None]
        for name, s in sides.items()
        if s.version is not None
    }


def load_sides(raw: dict[str, Any] | None) -> dict[str, Side]:
    if not raw:
        return {}
    return {
        name: Side(Version.decode(v, ""), Version.decode(b, "")) for name, (v, b) in raw.items()
    }
