"""What one org/module's last listing hinted, so that the poller's overlap costs nothing
downstream, and which records moved (or left) while a listing read them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta


class Recent:
    """What one org/module's last listing hinted (id -> time), so that the next listing of the
    overlapping window hints only what is new or changed. Times have one-second resolution: a
    record of the newest second listed is hinted again by the next listing (an edit later in
    that same second would carry the same time), then remembered."""

    AGAIN = "~"  # suffix of a time whose record the next listing hints once more

    def __init__(self, before: Mapping[str, str], key: tuple[str, str, str]) -> None:
        self.before, self.key = before, key
        self.now: dict[str, str] = {}
        self.moved: datetime | None = None
        self.gone: set[str] = set()  # listed, then deleted: already listed again for

    def _moved(self, when: str) -> None:
        moment = _moment(when)
        if moment is not None and (self.moved is None or moment < self.moved):
            self.moved = moment

    def moved_since(self) -> datetime | None:
        """Where to list again, once: a second before the earliest record that was listed,
        then edited and listed again at its new time. Pages are offsets into a list sorted by
        ``Modified_Time``: the edit moved it to the end, and the record at the next page's
        edge slipped back into the page already read, unseen; it is at or after it."""
        moved, self.moved = self.moved, None
        return moved - timedelta(seconds=1) if moved is not None else None

    def left_since(self, deleted: Iterable[str]) -> datetime | None:
        """Where to list again, once per record: a second before the earliest record of
        ``deleted`` that this poll listed. Deleted after its page was read, it left the list,
        and the record at the next page's edge slipped back into that page, unseen; it is at
        or after the deleted record's time."""
        left = [i for i in deleted if i in self.now and i not in self.gone]
        self.gone.update(left)
        times = [_moment(self.now[i].removesuffix(self.AGAIN)) for i in left]
        earliest = min((t for t in times if t is not None), default=None)
        return earliest - timedelta(seconds=1) if earliest is not None else None

    def fresh(self, item_id: str, when: str) -> bool:
        """Whether to hint this item (it is remembered either way)."""
        seen = self.now.get(item_id, "").removesuffix(self.AGAIN)
        if seen == when:
            return False  # listed twice by this poll (the first second of a later window)
        if seen:
            self._moved(seen)  # edited while this poll listed it
        previous = self.before.get(item_id)
        self.now[item_id] = when if previous in (when, when + self.AGAIN) else when + self.AGAIN
        return previous != when

    def settled(self, newest: str, overlap: timedelta) -> dict[str, str]:
        """The memory for the next listing: first sightings older than `newest` need no
        second look, and what is older than the next listing's start is forgotten (a burst
        of changes is not kept in memory)."""
        again, newest_again = self.AGAIN, newest + self.AGAIN
        start = _moment(newest)
        horizon = start - overlap if start is not None else None
        return {
            i: w[: -len(again)] if w.endswith(again) and w != newest_again else w
            for i, w in self.now.items()
            if horizon is None or not _before(w.removesuffix(again), horizon)
        }


def _moment(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _before(text: str, horizon: datetime) -> bool:
    moment = _moment(text)
    return moment is not None and moment < horizon
