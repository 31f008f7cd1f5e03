"""`orgsync plan`'s decisions from what it read (pure): one kind per source record."""

from __future__ import annotations

from orgsync_kernel.settings import ModuleRoute
from pipeline.sync.planning import ModulePlan, differences, plan_linked, plan_unlinked, sync_credits
from tests.support.writes import upsert as write

LINKING = ModuleRoute(match_field="Origin_Record_Id", link_existing=("Account_Name",))


def test_each_record_is_one_of_the_five_kinds() -> None:
    plan = ModulePlan()
    rows = [
        {"id": "t1", "Origin_Record_Id": "s1", "Account_Name": "Acme", "Phone": "555"},
        {"id": "t2", "Origin_Record_Id": None, "Account_Name": "initech"},
        {"id": "t3", "Origin_Record_Id": None, "Account_Name": "Globex"},
        {"id": "t4", "Origin_Record_Id": None, "Account_Name": "Globex"},
    ]
    plan_unlinked(
        [
            write("s1", Account_Name="Acme", Phone="555"),
            write("s2", Account_Name="Initech"),
            write("s3", Account_Name="Globex"),
            write("s4", Account_Name="Hooli"),
        ],
        rows,
        LINKING,
        plan,
    )
    plan_linked(
        [
            write("s5", target_id="t5", Account_Name="Stark"),
            write("s6", target_id="gone", Account_Name="Wayne"),
        ],
        {"t5": {"id": "t5", "Origin_Record_Id": "s5", "Account_Name": "Stark Inc"}},
        LINKING.model_copy(update={"on_link": "source_wins"}),
        plan,
    )
    assert plan.counts == {"create": 2, "link": 1, "update": 1, "unchanged": 1, "ambiguous": 1}
    assert plan.samples["link"][0]["target_id"] == "t2"
    assert plan.samples["ambiguous"][0]["candidates"] == ["t3", "t4"]
    assert {s["source_id"] for s in plan.samples["create"]} == {"s4", "s6"}


def test_differences_that_linking_kept_are_not_updates() -> None:
    plan = ModulePlan()
    targets = {
        f"t{n}": {"id": f"t{n}", "Origin_Record_Id": f"s{n}", "Account_Name": "Acme Ltd"}
        for n in (1, 2)
    }
    targets["t1"].update(Phone="555 0199", Website=None)
    kept_only = write("s1", target_id="t1", Account_Name="Acme", Phone="555 0100")
    with_empty = write("s2", target_id="t2", Account_Name="Acme Ltd", Website="acme.example")
    plan_linked([kept_only, with_empty], targets, LINKING, plan)
    assert (plan.counts["unchanged"], plan.counts["update"]) == (1, 1)
    [unchanged] = plan.samples["unchanged"]
    assert unchanged["kept"] == {
        "Account_Name": {"from": "Acme Ltd", "to": "Acme"},
        "Phone": {"from": "555 0199", "to": "555 0100"},
    }
    assert plan.samples["update"][0]["changes"] == {"Website": {"from": None, "to": "acme.example"}}


def test_differences_compare_forgivingly() -> None:
    target = {"Account_Name": "ACME ", "Phone": "+1 (555) 0100", "Website": None}
    assert differences({"Account_Name": "acme", "Phone": "15550100", "Website": ""}, target) == {}
    assert differences({"Website": "acme.example"}, target) == {
        "Website": {"from": None, "to": "acme.example"}
    }


def test_credits_are_what_the_sync_would_spend_at_most() -> None:
    counts = {"create": 150, "link": 20, "update": 20, "unchanged": 10, "ambiguous": 1}
    assert sync_credits(counts, many_fields=False, linking=True) == {"source": 2, "target": 22}
    assert sync_credits(counts, many_fields=True, linking=False) == {"source": 5, "target": 20}
