"""URL ↔ filter state: the query string round-trips, and a hand-edited link still opens a view."""

from __future__ import annotations

from datetime import date

from dashboard.filters import (
    FILTER_DIMENSIONS,
    FilterState,
    decode_query,
    default_state,
    describe_filters,
    encode_query,
)

DEFAULT = FilterState(start=date(2025, 3, 1), end=date(2026, 2, 28))


def test_default_is_the_twelve_whole_months_before_the_extract_month() -> None:
    assert default_state(date(2026, 3, 31)) == DEFAULT
    assert default_state(date(2026, 3, 1)) == DEFAULT
    assert default_state(date(2024, 1, 15), months=3) == FilterState(date(2023, 10, 1), date(2023, 12, 31))


def test_round_trip_keeps_every_dimension_and_value_order() -> None:
    state = DEFAULT.with_values(
        area=["E08000035", "E08000032"],
        setting=["community"],
        sex=["female"],
        age_band=["18-24", "65+"],
        programme=["PG 1&2"],
        substance_group=["opiate"],
        provider=["PV1"],
    )
    query = encode_query(state)
    assert query.startswith("?from=2025-03-01&to=2026-02-28")
    assert "area=E08000035&area=E08000032" in query
    assert decode_query(query, DEFAULT) == state
    assert FilterState.from_store(state.to_store()) == state


def test_missing_and_broken_parts_fall_back_to_the_default() -> None:
    assert decode_query("", DEFAULT) == DEFAULT
    assert decode_query(None, DEFAULT) == DEFAULT
    assert decode_query("?from=garbage&to=2026-13-40&colour=red", DEFAULT) == DEFAULT
    # A reversed period is not honoured.
    assert decode_query("?from=2026-01-01&to=2025-01-01", DEFAULT) == DEFAULT
    # Over-long values and repeats are dropped.
    state = decode_query("?setting=" + "x" * 500 + "&setting=prison&setting=prison", DEFAULT)
    assert state.setting == ("prison",)


def test_metric_filters_name_only_restricted_dimensions() -> None:
    state = DEFAULT.with_values(setting=["prison"], sex=[])
    assert state.metric_filters() == {"setting": ["prison"]}
    assert set(FILTER_DIMENSIONS) >= set(state.metric_filters())


def test_previous_period_has_the_same_length_and_ends_the_day_before() -> None:
    start, end = DEFAULT.previous_period()
    assert end == date(2025, 2, 28)
    assert (end - start) == (DEFAULT.end - DEFAULT.start)


def test_describe_names_the_period_and_the_filters_with_labels() -> None:
    assert describe_filters(DEFAULT) == "01 Mar 2025 to 28 Feb 2026 · all people and programmes"
    text = describe_filters(DEFAULT.with_values(area=["E1"]), {"area": {"E1": "Leeds"}})
    assert text.endswith("Area: Leeds")


def test_controls_and_store_have_the_same_size_limits_as_a_link() -> None:
    """Over-long values are dropped, at most 200 values are kept (repeats dropped), whichever way in."""
    raw = ["x" * 101, "", "prison", "prison", *[f"v{i}" for i in range(100_000)]]
    via_link = decode_query("?" + "&".join(f"setting={v}" for v in raw[:1000]), DEFAULT).setting
    via_control = DEFAULT.with_values(setting=raw).setting
    via_store = FilterState.from_store({**DEFAULT.to_store(), "setting": raw}).setting
    assert via_control == via_store == via_link
    assert via_control[:2] == ("prison", "v0") and len(via_control) == 199  # 200 kept, one a repeat
    assert all(len(v) <= 100 for v in via_control)
    assert DEFAULT.with_values(area=["y" * 100]).area == ("y" * 100,)  # 100 characters is still fine
    big = DEFAULT.with_values(**{d: raw for d in FILTER_DIMENSIONS})
    assert len(encode_query(big)) < 20_000 and all(len(v) <= 200 for v in big.metric_filters().values())


def test_a_lone_string_is_one_value_not_its_characters() -> None:
    assert DEFAULT.with_values(area="abc").area == ("abc",)
    assert FilterState.from_store({**DEFAULT.to_store(), "area": "abc"}).area == ("abc",)
    assert DEFAULT.with_values(area=("E1", "E2")).area == ("E1", "E2")
    assert DEFAULT.with_values(area="").area == () and DEFAULT.with_values(area="z" * 101).area == ()


def test_values_of_the_wrong_shape_are_dropped_not_turned_into_text() -> None:
    store = DEFAULT.to_store()
    for wrong in (7, -1.5e308, True, {"nested": ["E1"]}, [["E1"]], [None], [{"$ne": 1}], [1, 2.5, False]):
        assert DEFAULT.with_values(area=wrong).area == (), wrong
        assert FilterState.from_store({**store, "area": wrong}).area == (), wrong
    assert DEFAULT.with_values(area=["E1", 5, None, ["E2"], {"k": "E3"}, "E4"]).area == ("E1", "E4")
    assert DEFAULT.with_values(area=["E1"]).with_values(area=None).area == ()  # None still clears
