"""URL ↔ filter state: the query string round-trips; the state holds whole months only, whatever made it;
a hand-edited link still opens a view, and a notice names everything of it that was not used as given."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from dashboard.filters import (
    FILTER_DIMENSIONS,
    FilterState,
    decode_query,
    default_state,
    describe_filters,
    encode_query,
    read_controls,
)
from dashboard.periods import DataSpan

#: The test warehouses' dates: 1 Apr 2021 to 31 Mar 2026.
SPAN = DataSpan.of(date(2021, 4, 1), date(2026, 3, 31))
#: Their default view: financial year 2025-26, the latest complete one.
DEFAULT = FilterState(start=date(2025, 4, 1), end=date(2026, 3, 31))
OPTIONS = {
    "setting": [{"value": "community", "label": "community"}, {"value": "prison", "label": "prison"}],
    "sex": [{"value": "female", "label": "female"}, {"value": "male", "label": "male"}],
    "area": [{"value": "E1", "label": "Leeds"}],
}


def test_default_is_the_latest_complete_financial_year() -> None:
    assert default_state(date(2026, 3, 31), date(2021, 4, 1)) == DEFAULT
    assert default_state(date(2026, 4, 15), date(2021, 4, 1)) == DEFAULT
    assert default_state(date(2026, 3, 30), date(2021, 4, 1)) == FilterState(
        date(2024, 4, 1), date(2025, 3, 31)
    )
    # No complete financial year in the data: the rolling 12 months to the last complete month.
    assert default_state(date(2025, 6, 15), date(2024, 5, 14)) == FilterState(
        date(2024, 6, 1), date(2025, 5, 31)
    )
    # The benchmarks' varied views: the last few complete months.
    assert default_state(date(2024, 1, 15), months=3) == FilterState(date(2023, 10, 1), date(2023, 12, 31))


# -- FilterState holds whole months only ----------------------------------------------------------------


def test_filter_state_widens_any_period_to_whole_months() -> None:
    state = FilterState(date(2025, 6, 3), date(2025, 6, 23))
    assert (state.start, state.end) == (date(2025, 6, 1), date(2025, 6, 30))
    state = FilterState(datetime(2025, 12, 31, 13, 5), date(2026, 2, 1))  # a datetime is its day
    assert (state.start, state.end) == (date(2025, 12, 1), date(2026, 2, 28))
    assert type(state.start) is date
    # Every way of making one: replace, the store the browser sends back, with_values.
    assert replace(DEFAULT, start=date(2025, 4, 17)).start == date(2025, 4, 1)
    store = {**DEFAULT.to_store(), "start": "2025-06-03", "end": "2025-06-23"}
    crafted = FilterState.from_store(store)
    assert (crafted.start, crafted.end) == (date(2025, 6, 1), date(2025, 6, 30))
    assert FilterState(date(2025, 6, 3), date(2025, 6, 23)).with_values(sex=["female"]).end == date(
        2025, 6, 30
    )
    with pytest.raises(ValueError):
        FilterState(date(2025, 6, 23), date(2025, 6, 3))  # reversed within one month: not widened
    with pytest.raises(ValueError):
        FilterState.from_store({**store, "start": "2025-06-03'; --"})
    with pytest.raises(TypeError):
        FilterState("2025-06-01", date(2025, 6, 30))  # type: ignore[arg-type]


def test_previous_period_is_the_same_number_of_whole_months_before() -> None:
    assert DEFAULT.previous_period() == (date(2024, 4, 1), date(2025, 3, 31))
    february = FilterState(date(2026, 2, 1), date(2026, 2, 28))
    assert february.previous_period() == (date(2026, 1, 1), date(2026, 1, 31))  # not 28 days of January
    q2 = FilterState(date(2025, 7, 1), date(2025, 9, 30))
    assert q2.previous_period() == (date(2025, 4, 1), date(2025, 6, 30))  # Q1, although 91 days not 92


# -- the query string --------------------------------------------------------------------------------------


def test_round_trip_keeps_every_dimension() -> None:
    state = DEFAULT.with_values(
        area=["E08000035"],
        setting=["community"],
        sex=["female"],
        age_band=["65+"],
        programme=["PG 1&2"],
        substance_group=["opiate"],
        provider=["PV1"],
    )
    query = encode_query(state)
    assert query.startswith("?from=2025-04&to=2026-03")
    assert "programme=PG+1%262" in query
    reading = decode_query(query, SPAN)
    assert reading.state == state and reading.notices == ()
    assert FilterState.from_store(state.to_store()) == state


def test_a_link_with_several_values_of_a_dimension_keeps_the_first_and_says_so() -> None:
    """Free unions of values are what an averaging attacker differences (issue 16): one value or all."""
    reading = decode_query("?area=E2&area=E1&area=E3&setting=prison&setting=community", SPAN)
    assert reading.state == DEFAULT.with_values(area=["E2"], setting=["prison"])
    assert reading.notices == (
        "Area: the dashboard shows one area at a time or all of them, so 'E2' is shown and 'E1', 'E3' "
        "were left out.",
        "Setting: the dashboard shows one setting at a time or all of them, so 'prison' is shown and "
        "'community' was left out.",
    )
    # Values that are not options go first; the first option given is the one shown.
    reading = decode_query("?setting=moon&setting=community&setting=prison", SPAN, OPTIONS)
    assert reading.state.setting == ("community",) and len(reading.notices) == 2
    # The filter bar, or a request pretending to be it, is read the same way.
    reading = read_controls(None, "fy2025", {"sex": ["male", "female"]}, SPAN, DEFAULT, OPTIONS)
    assert reading.state.sex == ("male",) and reading.notices[0].startswith(
        "Sex: the dashboard shows one sex"
    )


def test_a_run_of_months_the_dashboard_does_not_answer_is_shown_as_the_shortest_period_holding_it() -> None:
    """Only months, financial-year quarters, financial years and the rolling 12 months (issue 16)."""
    reading = decode_query("?from=2025-05&to=2025-06", SPAN)
    assert reading.state == FilterState(date(2025, 4, 1), date(2025, 6, 30))  # Q1 2025-26
    assert reading.notices == (
        "The dashboard shows a month, a financial-year quarter, a financial year or the latest 12 months, "
        "not any run of months: May 2025 to Jun 2025 is shown as Q1 2025-26 (Apr-Jun 2025) (1 Apr 2025 "
        "to 30 Jun 2025), the shortest of these holding it.",
    )
    reading = decode_query("?from=2025-06&to=2025-08", SPAN)  # across two quarters: the year
    assert reading.state == DEFAULT and "shown as financial year 2025-26" in reading.notices[0]
    reading = decode_query("?from=2025-01&to=2025-12", SPAN)  # a calendar year: nothing holds it
    assert reading.state == DEFAULT and "none holds it: showing the default period" in reading.notices[0]
    for search in ("?from=2025-06&to=2025-06", "?from=2025-01&to=2025-03", "?from=2022-04&to=2023-03"):
        assert decode_query(search, SPAN).notices == (), search


def test_links_written_with_days_still_open() -> None:
    """A link from before whole months (``from=2025-04-01&to=2026-03-31``) is whole months: no notice."""
    reading = decode_query("?from=2025-04-01&to=2026-03-31&setting=prison", SPAN, OPTIONS)
    assert reading.state == FilterState(date(2025, 4, 1), date(2026, 3, 31), setting=("prison",))
    assert reading.notices == ()


def test_a_link_with_nothing_opens_the_default_without_a_notice() -> None:
    for search in ("", None, "?", "?setting="):
        reading = decode_query(search, SPAN)
        assert reading.state == DEFAULT and reading.notices == (), search


def test_a_day_level_link_is_widened_to_whole_months_with_a_notice() -> None:
    reading = decode_query("?from=2025-06-03&to=2025-06-23", SPAN)
    assert reading.state == FilterState(date(2025, 6, 1), date(2025, 6, 30))
    assert reading.notices == (
        "The dashboard shows whole months only: the period 3 Jun 2025 to 23 Jun 2025 was widened to "
        "Jun 2025, 1 Jun 2025 to 30 Jun 2025.",
    )
    # Only one end off a month boundary: still widened, still said.
    reading = decode_query("?from=2025-04-01&to=2026-03-30", SPAN)
    assert reading.state == DEFAULT and "widened to financial year 2025-26" in reading.notices[0]


def test_unknown_keys_and_unreadable_months_are_named() -> None:
    reading = decode_query("?from=garbage&to=2026-13-40&colour=red", SPAN)
    assert reading.state == DEFAULT
    assert reading.notices == (
        "'colour' in the link is not a filter and was ignored.",
        "from='garbage' is not a month (write it YYYY-MM, such as 2025-04): starting in Apr 2025, "
        "the default, instead.",
        "to='2026-13-40' is not a month (write it YYYY-MM, such as 2025-04): ending in Mar 2026, "
        "the default, instead.",
    )
    # A date with something after it is not read as the date (it used to be cut to 10 characters).
    reading = decode_query("?from=2024-01-01'; --&to=2025-01-01\"); --", SPAN)
    assert reading.state == DEFAULT and len(reading.notices) == 2
    # One end unreadable: that end is the default's, the other is kept.
    reading = decode_query("?from=2026-01&to=soon", SPAN)
    assert reading.state == FilterState(date(2026, 1, 1), date(2026, 3, 31)) and len(reading.notices) == 1
    reading = decode_query("?from=2025-07&from=2025-01&to=2025-09", SPAN)
    assert reading.state == FilterState(date(2025, 7, 1), date(2025, 9, 30))
    assert reading.notices == ("from= is given 2 times in the link: the first, '2025-07', is used.",)


def test_a_from_after_to_opens_the_default_with_a_notice() -> None:
    reading = decode_query("?from=2026-01&to=2025-01", SPAN)
    assert reading.state == DEFAULT
    assert reading.notices == (
        "In the link, from='2026-01' is after to='2025-01': showing the default period, "
        "financial year 2025-26, instead.",
    )
    reading = decode_query("?from=2025-06-23&to=2025-06-03", SPAN)  # reversed inside one month
    assert reading.state == DEFAULT and "is after" in reading.notices[0]
    reading = decode_query("?to=2024-01", SPAN)  # after the default start: reversed too
    assert reading.state == DEFAULT
    assert reading.notices[0].startswith("In the link, the default start (Apr 2025) is after to='2024-01'")


def test_a_period_outside_the_data_is_cut_to_it_or_replaced() -> None:
    reading = decode_query("?from=2019-01&to=2019-12", SPAN)
    assert reading.state == DEFAULT
    assert reading.notices == (
        "Jan 2019 to Dec 2019 is outside the data, which runs from Apr 2021 to Mar 2026, the last complete "
        "month of the data (as at 31 Mar 2026): showing the default period, financial year 2025-26, instead.",
    )
    # The data's first financial year, begun before the data: June to March is no period the dashboard
    # answers, and none holds it.
    late = DataSpan.of(date(2020, 6, 15), date(2026, 3, 31))
    reading = decode_query("?from=2020-04&to=2021-03", late)
    assert reading.state == DEFAULT
    assert reading.notices == (
        "The data begins in Jun 2020: the period starts there, not in Apr 2020.",
        "The dashboard shows a month, a financial-year quarter, a financial year or the latest 12 months, "
        "not any run of months: Jun 2020 to Mar 2021 is not one of these and none holds it: showing the "
        "default period, financial year 2025-26, instead.",
    )
    reading = decode_query("?from=2026-01&to=2026-06", SPAN)
    assert reading.state == FilterState(date(2026, 1, 1), date(2026, 3, 31))
    assert reading.notices == (
        "Jun 2026 is after Mar 2026, the last complete month of the data (as at 31 Mar 2026): the period "
        "ends in Mar 2026.",
    )
    # The month of as_of is not complete on 15 April: a link asking for it is cut to March.
    mid_april = DataSpan.of(date(2021, 4, 1), date(2026, 4, 15))
    reading = decode_query("?from=2026-01&to=2026-04", mid_april)
    assert reading.state == FilterState(date(2026, 1, 1), date(2026, 3, 31)) and len(reading.notices) == 1


def test_filter_values_that_are_not_options_are_named_and_left_out() -> None:
    reading = decode_query("?setting=moon&setting=prison&sex=x&sex=y&sex=z&sex=w&area=E1", SPAN, OPTIONS)
    assert reading.state == DEFAULT.with_values(setting=["prison"], area=["E1"])
    assert reading.notices == (
        "Setting: 'moon' is not one of the options, so it was left out.",
        "Sex: 'x', 'y', 'z' and 1 more are not among the options, so they were left out; showing every sex.",
    )
    # Hostile text is quoted cut short and with unprintable characters replaced.
    reading = decode_query("?sex=" + "%E2%80%AEevil%00" + "A" * 200, SPAN, OPTIONS)
    assert reading.state.sex == () and len(reading.notices) == 1
    assert "\u202e" not in reading.notices[0] and "\x00" not in reading.notices[0]
    assert (
        "'\N{REPLACEMENT CHARACTER}evil\N{REPLACEMENT CHARACTER}AAAAAAAAAAAAAAAAAAAAAAAA…'"
        in reading.notices[0]
    )


def test_over_long_values_and_repeats_are_dropped() -> None:
    reading = decode_query("?setting=" + "x" * 500 + "&setting=prison&setting=prison", SPAN)
    assert reading.state.setting == ("prison",)
    assert reading.notices == ("Setting: '" + "x" * 30 + "…' is not a usable value, so it was left out.",)


# -- the filter bar ------------------------------------------------------------------------------------------


def test_choosing_a_period_sets_it() -> None:
    for key, first, last in (
        ("fy2025q2", date(2025, 7, 1), date(2025, 9, 30)),
        ("fy2023", date(2023, 4, 1), date(2024, 3, 31)),
        ("m2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("rolling12", date(2025, 4, 1), date(2026, 3, 31)),
    ):
        reading = read_controls("period", key, {}, SPAN, DEFAULT, OPTIONS)
        assert (reading.state.start, reading.state.end, reading.notices) == (first, last, ()), key
    # A choice the filter bar does not offer (before the data, or not a period it answers) keeps the
    # period shown, and says so.
    q2 = FilterState(date(2025, 7, 1), date(2025, 9, 30))
    for key in ("fy2019", "m2026-04", "custom", "2025-05/2025-08"):
        reading = read_controls("period", key, {}, SPAN, q2, OPTIONS)
        assert reading.state == q2, key
        assert reading.notices == (
            f"The period '{key}' is not one of the choices: it stays Q2 2025-26 (Jul-Sep 2025).",
        )


def test_crafted_control_values_are_never_day_level_or_another_shape() -> None:
    """A request no filter bar sends (days, text, numbers, lists) still gives a period the dashboard
    answers."""
    reading = read_controls("period", "2025-06-03", {"sex": ["female"]}, SPAN, DEFAULT)
    assert reading.state == DEFAULT.with_values(sex=["female"])
    assert reading.notices == (
        "The period '2025-06-03' is not one of the choices: it stays financial year 2025-26.",
    )
    for wrong in (20250603, ["fy2025"], None, {"key": "fy2025"}):
        reading = read_controls("period", wrong, {}, SPAN, DEFAULT)
        assert reading.state == DEFAULT and len(reading.notices) == 1, wrong
    # A dimension changed: the period is the current view's.
    current = FilterState(date(2025, 7, 1), date(2025, 9, 30))
    assert read_controls(None, None, {}, SPAN, current).state == current


def test_control_values_that_are_not_options_are_left_out() -> None:
    reading = read_controls(None, "fy2025", {"setting": ["prison", "moon"]}, SPAN, DEFAULT, OPTIONS)
    assert reading.state == DEFAULT.with_values(setting=["prison"])
    assert reading.notices == ("Setting: 'moon' is not one of the options, so it was left out.",)
    reading = read_controls(None, "fy2025", {"setting": "prison"}, SPAN, DEFAULT, OPTIONS)  # single-select
    assert reading.state == DEFAULT.with_values(setting=["prison"]) and reading.notices == ()


# -- the filter line -----------------------------------------------------------------------------------------


def test_metric_filters_name_only_restricted_dimensions() -> None:
    state = DEFAULT.with_values(setting=["prison"], sex=[])
    assert state.metric_filters() == {"setting": ["prison"]}
    assert set(FILTER_DIMENSIONS) >= set(state.metric_filters())


def test_describe_names_the_period_as_people_say_it_and_the_filters_with_labels() -> None:
    assert describe_filters(DEFAULT, span=SPAN) == "financial year 2025-26 · all people and programmes"
    q2 = FilterState(date(2025, 7, 1), date(2025, 9, 30))
    assert describe_filters(q2, span=SPAN).startswith("Q2 2025-26 (Jul-Sep 2025) · ")
    twelve = FilterState(date(2025, 3, 1), date(2026, 2, 28))
    assert describe_filters(twelve, span=DataSpan.of(date(2021, 4, 1), date(2026, 3, 2))).startswith(
        "12 months to Feb 2026 · "
    )
    assert describe_filters(twelve, span=SPAN).startswith("Mar 2025 to Feb 2026 · ")
    text = describe_filters(DEFAULT.with_values(area=["E1"]), {"area": {"E1": "Leeds"}})
    assert text == "financial year 2025-26 · Area: Leeds"


def test_controls_and_store_have_the_same_size_limits_as_a_link() -> None:
    """Over-long values are dropped, at most 200 values are kept (repeats dropped), whichever way in; a
    link and the filter bar then keep the first (one value or all)."""
    raw = ["x" * 101, "", "prison", "prison", *[f"v{i}" for i in range(100_000)]]
    via_link = decode_query("?" + "&".join(f"setting={v}" for v in raw[:1000]), SPAN).state.setting
    via_bar = read_controls(None, "fy2025", {"setting": raw}, SPAN, DEFAULT).state.setting
    via_control = DEFAULT.with_values(setting=raw).setting
    via_store = FilterState.from_store({**DEFAULT.to_store(), "setting": raw}).setting
    assert via_control == via_store and via_link == via_bar == ("prison",)
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
