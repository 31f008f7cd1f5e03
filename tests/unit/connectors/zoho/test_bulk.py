"""Bulk Read results: the CSV out of the ZIP, and its rows shaped as the records API shapes them."""

from __future__ import annotations

import io
import zipfile

from connectors.zoho.bulk import csv_rows, typed


def archive(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("5725767000000859031.csv", text)
    return buffer.getvalue()


def test_rows_come_typed_like_the_records_api() -> None:
    rows = csv_rows(
        archive(
            "id,Last_Name,Account_Name,Owner,Tags,Opt_Out,Employees,Amount,Phone,Birthday\n"
            '12,"Doe, Jane",77,9001,Gold;VIP,true,42,12.5,,2024-01-01\n'
        )
    )
    kinds = {
        "Account_Name": "lookup",
        "Owner": "ownerlookup",
        "Tags": "multiselectpicklist",
        "Opt_Out": "boolean",
        "Employees": "integer",
        "Amount": "currency",
        "Phone": "phone",
        "Birthday": "date",
    }
    assert [typed(row, kinds) for row in rows] == [
        {
            "id": "12",
            "Last_Name": "Doe, Jane",
            "Account_Name": {"id": "77"},
            "Owner": {"id": "9001"},
            "Tags": ["Gold", "VIP"],
            "Opt_Out": True,
            "Employees": 42,
            "Amount": 12.5,
            "Phone": None,
            "Birthday": "2024-01-01",
        }
    ]
