from __future__ import annotations

from bench.pipeline_doc import OTHER, area_of, render, time_by_area
from bench.report import refresh_section


def test_own_time_is_summed_per_area_largest_first() -> None:
    stats = {
        ("/x/site-packages/faust/streams.py", 1, "_c_aiter"): (1, 1, 2.0, 3.0, {}),
        ("/x/site-packages/mode/services.py", 9, "wait_first"): (1, 1, 1.0, 1.0, {}),
        ("/repo/pipeline/processor.py", 5, "process"): (1, 1, 0.5, 9.0, {}),
        ("~", 0, "<method 'poll' of 'select.epoll' objects>"): (1, 1, 4.0, 4.0, {}),
        ("~", 0, "<built-in method builtins.isinstance>"): (1, 1, 0.25, 0.25, {}),
    }
    areas = time_by_area(stats)
    assert list(areas.items()) == [
        ("waiting for I/O (epoll, idle)", 4.0),
        ("Faust and mode (streams, tables, agents)", 3.0),
        ("orgsync (pipeline/, connectors/)", 0.5),
        (OTHER, 0.25),
    ]


def test_orjson_and_sockets_have_their_own_areas() -> None:
    assert area_of(("~", 0, "<built-in method orjson.loads>")) == "JSON (orjson)"
    assert area_of(("~", 0, "<method 'send' of '_socket.socket' objects>")) == "socket send/recv"


def test_render_lists_each_run_and_the_shares() -> None:
    runs = {
        "one worker": {
            "records": 10_000,
            "records_per_s": 400.0,
            "worker_cpu_s": 23.0,
            "records_per_upsert": 98.0,
            "fetch_calls": 101,
            "worker_peak_rss_mb": 99.0,
            "at": "2026-11-27T12:00:00+0000",
        }
    }
    text = render(runs, {"a": 3.0, "b": 1.0}, "profiled")
    assert "| one worker | 10,000 | 1 | 400.0 | 98.0 | 101 | 23.0 | 99.0 | 2.30 |" in text
    assert "| a | 3.0 | 75 % |" in text and "| b | 1.0 | 25 % |" in text
    assert "run `profiled`" in text


def test_sections_with_other_markers_are_replaced_in_place() -> None:
    doc = "intro\n<!-- p:b -->\nold\n<!-- p:e -->\ntail\n"
    assert (
        refresh_section(doc, "new", "<!-- p:b -->", "<!-- p:e -->")
        == "intro\n<!-- p:b -->\nnew\n<!-- p:e -->\ntail\n"
    )
