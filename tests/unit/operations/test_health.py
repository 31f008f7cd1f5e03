"""The health panel's items, from metrics read by name and the topics' offsets."""

from __future__ import annotations

from orgsync_operations.health import health
from orgsync_operations.offsets import TopicStat
from orgsync_operations.sampler import Samples
from tests.support.status_page import make_settings

NOW = 1_700_000_000.0


def test_each_item_says_what_is_wrong() -> None:
    settings = make_settings("127.0.0.1:9", "p", "http://127.0.0.1:9")
    samples: Samples = {
        "orgsync_zoho_token_refresh_timestamp_seconds": [
            ({"org": "src", "outcome": "ok"}, NOW - 60),
            ({"org": "tgt", "outcome": "ok"}, NOW - 60),
            ({"org": "tgt", "outcome": "auth"}, NOW - 5),
        ],
        "orgsync_zoho_token_refreshes_total": [({"org": "tgt", "outcome": "auth"}, 2.0)],
        "orgsync_zoho_credits_remaining": [({"org": "src"}, 90.0), ({"org": "tgt"}, 500.0)],
        "orgsync_zoho_credits_reserve": [({"org": "src"}, 100.0), ({"org": "tgt"}, 100.0)],
        "orgsync_poller_last_poll_timestamp_seconds": [({"org": "src"}, NOW - 30)],
        "orgsync_target_state": [
            ({"target": "tgt", "state": "ok"}, 0.0),
            ({"target": "tgt", "state": "slow"}, 1.0),
        ],
        "orgsync_schema_drift_total": [
            ({"org": "tgt", "module": "Accounts", "kind": "removed"}, 1)
        ],
    }
    topics = {settings.topics.writes("tgt"): TopicStat(lag=12, newest=None)}
    found = health(settings, samples, [], topics, NOW)
    assert [(i.name, i.state) for i in found.tokens] == [("src", "ok"), ("tgt", "failing")]
    assert "2 failed" in found.tokens[1].detail
    assert [(i.name, i.state) for i in found.pollers] == [("src", "paused")]
    assert [(i.name, i.state, i.detail) for i in found.targets] == [
        ("tgt", "slow", "12 writes waiting in its queue")
    ]
    assert [(i.name, i.state) for i in found.drift] == [("src->tgt", "drift")]
    assert [i.state for i in found.channels] == ["off"]  # no ingress.public_url

    del samples["orgsync_target_state"]  # the worker runs elsewhere: Kafka says it
    assert [i.state for i in health(settings, samples, [], topics, NOW).targets] == ["queued"]
