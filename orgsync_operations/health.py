"""The status page's health panel: one item per token, channel, poller, target and route.

Built from this process's metrics (read by name, so nothing here imports the pipeline or the
connectors' metric groups), the channels kept in Kafka and the topics' offsets. A figure this
process does not have (the worker runs elsewhere) is said so, or inferred from Kafka.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from orgsync_kernel.settings import Route, Settings
from orgsync_operations.charts import when
from orgsync_operations.kafka_state import Channel
from orgsync_operations.offsets import TopicStat
from orgsync_operations.sampler import Samples, total

EXPIRING_SECONDS = 6 * 3600  # the channel manager renews a channel this long before expiry
LATE_POLLS = 3  # a poller this many intervals behind is late


@dataclass(frozen=True)
class Item:
    name: str
    state: str  # ok, or what is wrong (the template colours by it)
    detail: str


@dataclass(frozen=True)
class Health:
    tokens: list[Item]
    channels: list[Item]
    pollers: list[Item]
    targets: list[Item]
    drift: list[Item]


def gauge(samples: Samples, name: str, **labels: str) -> float | None:
    found = [v for ls, v in samples.get(name, []) if all(ls.get(k) == v for k, v in labels.items())]
    return max(found) if found else None


def token_item(samples: Samples, org: str) -> Item:
    at = "orgsync_zoho_token_refresh_timestamp_seconds"
    ok = gauge(samples, at, org=org, outcome="ok")
    failed = [v for ls, v in samples.get(at, []) if ls.get("org") == org and ls["outcome"] != "ok"]
    failures = int(total(samples, "orgsync_zoho_token_refreshes_total", {"outcome": "ok"}, org=org))
    last_failure = max(failed, default=None)
    state = "not yet" if ok is None and last_failure is None else "ok"
    if last_failure is not None and (ok is None or last_failure > ok):
        state = "failing"
    detail = f"last refresh {when(ok) if ok else 'none by this process'}; {failures} failed"
    if last_failure is not None:
        detail += f", last at {when(last_failure)}"
    return Item(org, state, detail)


def channel_items(settings: Settings, channels: Sequence[Channel], now: float) -> list[Item]:
    if settings.ingress.public_url is None:
        return [Item("—", "off", "no ingress.public_url: webhooks and the poller only")]
    held = {(c.org, c.module): c for c in channels}
    items = []
    for org, modules in sorted(settings.watched.items()):
        for module in sorted(modules):
            channel = held.get((org, module))
            if channel is None:
                items.append(Item(f"{org} {module}", "missing", "no channel subscribed yet"))
                continue
            left = channel.expires_at - now
            state = "expired" if left <= 0 else "expiring" if left < EXPIRING_SECONDS else "ok"
            items.append(Item(f"{org} {module}", state, f"expires {when(channel.expires_at)}"))
    return items


def at_reserve(samples: Samples, org: str) -> bool:
    remaining = gauge(samples, "orgsync_zoho_credits_remaining", org=org)
    reserve = gauge(samples, "orgsync_zoho_credits_reserve", org=org)
    return remaining is not None and reserve is not None and remaining <= reserve


def poller_item(settings: Settings, samples: Samples, org: str, now: float) -> Item:
    last = gauge(samples, "orgsync_poller_last_poll_timestamp_seconds", org=org)
    errors = int(total(samples, "orgsync_poller_errors_total", org=org))
    state, detail = "ok", ""
    if at_reserve(samples, org):  # its calls are low priority: they wait below the reserve
        state, detail = "paused", "at the credit reserve; "
    elif last is None:
        state = "not yet"
    elif now - last > LATE_POLLS * settings.poller.interval_seconds:
        state = "late"
    detail += f"last poll {when(last) if last else 'none by this process'}; {errors} failed"
    return Item(org, state, detail)


def target_item(
    settings: Settings, samples: Samples, topics: Mapping[str, TopicStat], target: str
) -> Item:
    queue = topics.get(settings.topics.writes(target))
    waiting = queue.lag if queue is not None and queue.lag is not None else 0
    state = next(
        (
            labels["state"]
            for labels, value in samples.get("orgsync_target_state", [])
            if value == 1 and labels.get("target") == target
        ),
        None,
    )
    remaining = gauge(samples, "orgsync_zoho_credits_remaining", org=target)
    detail = f"{waiting} writes waiting in its queue"
    if remaining is not None and remaining <= 0:
        return Item(target, "paused", f"no API credits left; {detail}")
    if state is None:  # the worker runs in another process: what Kafka says
        return Item(target, "queued" if waiting else "ok", f"{detail} (from Kafka)")
    return Item(target, state.replace("_", " "), detail)


def drift_item(samples: Samples, route: Route) -> Item:
    kinds: dict[str, int] = {}
    for labels, value in samples.get("orgsync_schema_drift_total", []):
        org, module = labels.get("org"), labels.get("module", "")
        ours = (org == route.source and module in route.modules) or (
            org == route.target and route.source_module_for(module) is not None
        )
        if ours and value > 0:
            what = f"{org} {module} {labels.get('kind')}"
            kinds[what] = kinds.get(what, 0) + int(value)
    if not kinds:
        return Item(route.name, "ok", "no field metadata change seen by this process")
    seen = ", ".join(f"{what} ×{n}" for what, n in sorted(kinds.items()))
    return Item(route.name, "drift", f"{seen} (orgsync check explains)")


def health(
    settings: Settings,
    samples: Samples,
    channels: Sequence[Channel],
    topics: Mapping[str, TopicStat],
    now: float,
) -> Health:
    return Health(
        tokens=[token_item(samples, org) for org in sorted(settings.orgs)],
        channels=channel_items(settings, channels, now),
        pollers=[
            poller_item(settings, samples, org, now)
            for org, modules in sorted(settings.watched.items())
            if modules
        ],
        targets=[target_item(settings, samples, topics, t) for t in settings.targets],
        drift=[drift_item(samples, route) for route in settings.sync],
    )
