"""Links: plain links of records in orgs only read from live in their record's partition
(owned here, or written through an outbox), everything else in the shared table."""

from __future__ import annotations

from connectors.kafka import partition_of
from connectors.kafka.compacted import CompactedTable
from orgsync_kernel.events import Write, link_key, link_record, split_key
from pipeline.mapping.subform_rows import rows_key
from pipeline.sync.record_state import field_hash
from pipeline.worker.tables import Links, Outbox, Partitioned, RecordStates

PARTITIONS = 4


def links(*owned: int) -> Links:
    local = Partitioned("p.record-links", PARTITIONS, place=link_record)
    for partition in owned:
        local.owned[partition] = CompactedTable("p.record-links", partition=partition)
    shared = CompactedTable("p.links")
    return Links(shared, local, local_orgs={"src"}, orgs=["src", "tgt"])


def key_in(partition: int) -> str:
    n = 0
    while partition_of(f"src/Leads/{n}", PARTITIONS) != partition:
        n += 1
    return link_key("src", "Leads", str(n), "tgt")


def test_only_plain_links_of_orgs_read_from_are_local() -> None:
    table = links()
    assert table.is_local(link_key("src", "Leads", "1", "tgt"))
    assert not table.is_local(link_key("tgt", "Leads", "1", "src"))  # routes write into tgt
    assert not table.is_local(rows_key("src", "Quotes", "1", "tgt"))  # row maps: shared
    assert not table.is_local("\x00record-links")


def test_an_owned_link_stays_in_its_partition_and_a_foreign_one_goes_out() -> None:
    table = links(0)
    mine, theirs = key_in(0), key_in(1)
    table[mine] = "t1"
    table[theirs] = "t2"
    assert table.local.owned[0].queued == [(mine, "t1")]
    assert isinstance(table.outboxes[1], Outbox) and table.outboxes[1].queued == [(theirs, "t2")]
    assert table.get(mine) == "t1" and table.get(theirs) is None  # not kept here
    assert not table.shared.queued


def test_a_published_link_is_read_everywhere_and_kept_current() -> None:
    owner, other = links(0), links(1)
    mine = key_in(0)
    owner[mine] = "t1"
    owner.publish([link_record(mine)])
    assert owner.shared.queued == [(mine, "t1")]
    other.shared.apply(mine.encode(), b'"t1"')  # what the other worker reads of it
    assert other.get(mine) == "t1"
    owner[mine] = "t9"  # relinked: the published copy follows
    assert owner.shared.get(mine) == "t9"
    assert owner.pop(mine) == "t9" and owner.get(mine) is None
    assert (mine, None) in owner.shared.queued


def test_links_an_earlier_release_kept_shared_move_to_their_partitions() -> None:
    table = links()
    old, back = key_in(2), link_key("tgt", "Leads", "5", "src")
    table.shared.base.update({old: "t1", back: "s5"})
    assert table.get(old) == "t1"  # read from the shared table until moved
    table.relocate([k for k in table.shared if table.is_local(k)])
    assert table.outboxes[2].queued == [(old, "t1")]
    assert table.shared.get(old) is None and table.shared.get(back) == "s5"


def states(*owned: int) -> RecordStates:
    table = RecordStates("p.record-states", PARTITIONS)
    for partition in owned:
        table.owned[partition] = CompactedTable("p.record-states", partition=partition)
    return table


def record_in(partition: int) -> str:
    return link_record(key_in(partition))


def write_into(key: str, **record: object) -> Write:
    org, module, record_id = key.split("/")
    return Write(
        route="r",
        target_org=org,
        target_module=module,
        source_org="tgt",
        source_module=module,
        source_id="7",
        operation="upsert",
        record=dict(record),
        match_field="Email",
        content_hash="",
        modified_time=None,
        target_id=record_id,
    )


def test_a_write_into_a_record_of_another_partition_goes_to_its_worker() -> None:
    mine, theirs = record_in(0), record_in(1)
    here, there = states(0), states(1)
    here.wrote(write_into(mine, Tier="Gold"), split_key(mine)[2], "2026-01-05T10:00:00+00:00")
    here.wrote(write_into(theirs, Tier="Gold"), split_key(theirs)[2], "2026-01-05T10:00:00+00:00")
    assert here[mine]["values"]["Tier"] == field_hash("Gold")
    [sent] = here.sent
    assert (sent.operation, sent.target_key) == ("written", theirs) and theirs not in here.owned[0]
    there.record(sent)  # its worker, reading it on `decide`
    assert there[theirs]["values"]["Tier"] == field_hash("Gold")
    later = write_into(theirs, Tier="Silver").derive(
        operation="written", modified_time="2026-01-05T09:00:00+00:00"
    )
    there.record(later)  # older than what the state knows: not recorded
    assert there[theirs]["values"]["Tier"] == field_hash("Gold")
    here.forget(theirs)
    there.record(here.sent[-1])
    assert theirs not in there


def test_an_outbox_keeps_nothing_of_what_it_produced() -> None:
    table = links(0)
    theirs = key_in(1)
    table[theirs] = "t2"
    box = table.outboxes[1]
    sent = box.take_queued()
    box.acknowledged(sent, 41)  # what the writer's flush does once the broker acknowledged
    assert sent == [(theirs, "t2")] and not box.queued
    assert dict(box.base) == {} and not box._sent and not box._echoes
