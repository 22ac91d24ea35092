"""Peer support and outcomes on the landmark cohort (`pipelines.metrics.comparisons`), on hand-built
extracts whose answers are known by construction.

Every cohort here is made of cells: (substance group, exposed?, episodes, retained). Each episode is one
person's only episode in PG1 (community), starting in 2024-01-01 … 2024-03-30; retained ones are still
open at as_of 2025-06-30, the others drop out on day 40 (after the landmark, before day 84). An exposed
episode has an attended peer contact on day 10, an unexposed one a professional contact on day 10. So
the only covariate that varies is substance group, and the true effect of exposure is what the cells
say. The adjusted estimate is checked against statsmodels fitted directly to the cells, and the crude
one against Newcombe's interval from the cells' counts.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from click.testing import CliRunner

from pipelines.cli import main
from pipelines.metrics import (
    COMPARISON_COLUMNS,
    compare_peer_support,
    compute_metric,
    peer_support_dose,
    peer_support_records,
    peer_support_timing,
)
from pipelines.stats import newcombe_difference_interval
from tests.metrics.builders import contact, d, episode, shown_count

START, END, AS_OF = d("2024-01-01"), d("2024-03-31"), d("2025-06-30")
PRIMARY = {"alcohol": "alcohol", "opiate": "heroin", "non_opiate": "cocaine"}


def cells_extract(cells: list[tuple[str, bool, int, int]], prefix: str = "X") -> dict[str, list[dict]]:
    """Episodes and contacts for cells (substance group, exposed, episodes, retained)."""
    episodes, contacts = [], []
    for number, (group, exposed, n, retained) in enumerate(cells):
        for i in range(n):
            key = f"{prefix}{number}n{i:04d}"
            start = START + timedelta(days=i % 90)
            stays = i < retained
            episodes.append(
                episode(
                    f"E{key}",
                    f"P{key}",
                    start=start,
                    discharge=None if stays else start + timedelta(days=40),
                    reason=None if stays else "dropped_out",
                    substance_group=group,
                    primary=PRIMARY[group],
                )
            )
            by = "peer" if exposed else "professional"
            contacts.append(
                contact(f"C{key}", f"P{key}", start + timedelta(days=10), by=by, episode_id=f"E{key}")
            )
    return {"episodes": episodes, "contacts": contacts}


def cells_frame(cells: list[tuple[str, bool, int, int]]) -> pd.DataFrame:
    """The same cells as one row per episode: the data statsmodels is fitted to, built independently."""
    rows = []
    for group, exposed, n, retained in cells:
        rows += [
            {"substance": group, "exposed": int(exposed), "outcome": int(i < retained)} for i in range(n)
        ]
    return pd.DataFrame(rows)


def statsmodels_standardised_difference(frame: pd.DataFrame) -> float:
    """Marginal standardisation by hand: logit(outcome) ~ exposed + substance, then the mean prediction
    with everyone exposed minus with no one exposed."""
    model = smf.glm("outcome ~ exposed + C(substance)", data=frame, family=sm.families.Binomial()).fit()
    exposed = model.predict(frame.assign(exposed=1)).mean()
    unexposed = model.predict(frame.assign(exposed=0)).mean()
    return float(exposed - unexposed)


def row(table: pd.DataFrame, estimate: str) -> pd.Series:
    return table.set_index("estimate").loc[estimate]


# -- no effect, but peer support goes to the better prognosis -----------------------------------------

#: Alcohol clients retain 95%, opiate clients 60%, with or without peer support; 80% of alcohol clients
#: and 20% of opiate clients get it. Crude: (152 + 24) / 200 = 0.88 against (38 + 96) / 200 = 0.67.
CONFOUNDED = [
    ("alcohol", True, 160, 152),
    ("alcohol", False, 40, 38),
    ("opiate", True, 40, 24),
    ("opiate", False, 160, 96),
]


@pytest.fixture(scope="module")
def confounded(make_warehouse):
    return make_warehouse(**cells_extract(CONFOUNDED))


def test_no_effect_confounded_by_prognosis_crude_is_large_adjusted_covers_zero(confounded) -> None:
    table = compare_peer_support(confounded, "retention_12wk", START, END, as_of=AS_OF, suppress=False)
    assert list(table.columns) == COMPARISON_COLUMNS
    crude, adjusted = row(table, "crude"), row(table, "adjusted")
    assert (crude["exposed_n"], crude["unexposed_n"]) == (200, 200)
    assert crude["exposed_value"] == pytest.approx(0.88) and crude["unexposed_value"] == pytest.approx(0.67)
    assert crude["difference"] == pytest.approx(0.21)
    low, high = newcombe_difference_interval(176, 200, 134, 200)
    assert (crude["ci_low"], crude["ci_high"]) == pytest.approx((low, high))
    assert crude["ci_low"] > 0.1  # the crude comparison says peer support "works"
    assert adjusted["difference"] == pytest.approx(0.0, abs=1e-9)
    assert adjusted["difference"] == pytest.approx(
        statsmodels_standardised_difference(cells_frame(CONFOUNDED))
    )
    assert adjusted["ci_low"] < 0 < adjusted["ci_high"]
    assert adjusted["adjusted_for"] == "substance_group"  # every other covariate is constant here
    assert "left out of the model" in adjusted["notes"]
    assert not table["suppressed"].any() and table["reason"].isna().all()
    assert table.attrs["observational"] and table.attrs["disclosure"] is None


def test_shared_comparison_is_computed_from_perturbed_counts(confounded) -> None:
    table = compare_peer_support(confounded, "retention_12wk", START, END, as_of=AS_OF)
    crude, adjusted = row(table, "crude"), row(table, "adjusted")
    exposed = "episode_id IN (SELECT episode_id FROM episode_facts WHERE peer_contact_first_28d)"
    exposed_retained = exposed + " AND (discharge_date IS NULL)"
    n1 = shown_count(confounded, "episodes", exposed)
    n0 = shown_count(confounded, "episodes", "NOT " + exposed)
    x1 = shown_count(confounded, "episodes", exposed_retained)
    x0 = shown_count(confounded, "episodes", f"NOT ({exposed}) AND discharge_date IS NULL")
    assert (crude["exposed_n"], crude["unexposed_n"]) == (n1, n0)
    assert (adjusted["exposed_n"], adjusted["unexposed_n"]) == (n1, n0)
    assert crude["exposed_value"] == pytest.approx(x1 / n1) and crude["unexposed_value"] == pytest.approx(
        x0 / n0
    )
    assert (crude["ci_low"], crude["ci_high"]) == pytest.approx(newcombe_difference_interval(x1, n1, x0, n0))
    # The adjusted estimate is the model's, rounded to 0.1 percentage point when shared.
    assert adjusted["difference"] == 0.0 and adjusted["ci_low"] == round(adjusted["ci_low"], 3)
    assert table.attrs["disclosure"] == "perturbation"


# -- a planted effect ---------------------------------------------------------------------------------

#: A common odds ratio of 4 in both strata: alcohol 0.5 → 0.8, opiate 0.2 → 0.5, and 2 : 1 exposure in
#: alcohol against 1 : 2 in opiate clients. Standardised over the cohort (half alcohol, half opiate):
#: everyone exposed 0.5·0.8 + 0.5·0.5 = 0.65, no one 0.5·0.5 + 0.5·0.2 = 0.35, so the effect is 0.30;
#: the crude comparison says (160 + 50) / 300 − (50 + 40) / 300 = 0.40.
PLANTED = [
    ("alcohol", True, 200, 160),
    ("alcohol", False, 100, 50),
    ("opiate", True, 100, 50),
    ("opiate", False, 200, 40),
]


def test_planted_effect_is_recovered_within_its_interval(make_warehouse) -> None:
    warehouse = make_warehouse(**cells_extract(PLANTED))
    table = compare_peer_support(warehouse, "retention_12wk", START, END, as_of=AS_OF, suppress=False)
    crude, adjusted = row(table, "crude"), row(table, "adjusted")
    assert crude["difference"] == pytest.approx(0.40)
    assert adjusted["exposed_value"] == pytest.approx(0.65) and adjusted["unexposed_value"] == pytest.approx(
        0.35
    )
    assert adjusted["difference"] == pytest.approx(0.30)
    assert adjusted["difference"] == pytest.approx(statsmodels_standardised_difference(cells_frame(PLANTED)))
    assert adjusted["ci_low"] < 0.30 < adjusted["ci_high"] and adjusted["ci_low"] > 0
    assert adjusted["ci_high"] < crude["difference"]  # the confounded crude value is outside it


def test_planted_effect_in_random_records_against_statsmodels(make_warehouse) -> None:
    """Outcomes drawn from a logistic model (log odds ratio 0.8, three substance groups with their own
    baseline and exposure rates): the metric layer's adjusted estimate equals statsmodels' marginal
    standardisation on the same records, and its interval covers the true standardised effect."""
    rng = np.random.default_rng(13)
    groups = {"alcohol": (1.2, 0.7), "opiate": (-0.3, 0.3), "non_opiate": (0.4, 0.5)}
    cells, truth_on, truth_off, total = [], 0.0, 0.0, 0
    for group, (baseline, share_exposed) in groups.items():
        n = 300
        exposed = rng.random(n) < share_exposed
        p = 1 / (1 + np.exp(-(baseline + 0.8 * exposed)))
        retained = rng.random(n) < p
        for flag in (True, False):
            members = exposed == flag
            cells.append((group, flag, int(members.sum()), int(retained[members].sum())))
        truth_on += n / (1 + np.exp(-(baseline + 0.8)))
        truth_off += n / (1 + np.exp(-baseline))
        total += n
    truth = (truth_on - truth_off) / total
    warehouse = make_warehouse(**cells_extract(cells, prefix="R"))
    adjusted = row(
        compare_peer_support(warehouse, "retention_12wk", START, END, as_of=AS_OF, suppress=False), "adjusted"
    )
    assert adjusted["difference"] == pytest.approx(
        statsmodels_standardised_difference(cells_frame(cells)), abs=1e-8
    )
    assert adjusted["ci_low"] < truth < adjusted["ci_high"]


# -- immortal time only -------------------------------------------------------------------------------


#: No effect and no confounding: half the episodes still in treatment on day 28 had a peer contact on
#: day 10, and 70% of either half stay to day 84 (open), 30% leave on day 40. Those who stay are offered
#: a peer contact on day 50, which the leavers never get; 40 more episodes leave on day 7, before any
#: peer contact. Whole-episode exposure: with (70 + 70) / (100 + 70) = 0.82, without 0 / 30 = 0.
#: The metric's own peer_support groups (a peer contact on days 0–27, day-7 leavers kept): 70 / 100
#: against 70 / 140. The landmark: 70 / 100 against 70 / 100.
def immortal_time_extract() -> dict[str, list[dict]]:
    rows = cells_extract([("opiate", True, 100, 70), ("opiate", False, 100, 70)], prefix="I")
    for e in rows["episodes"]:
        if e["discharge_date"] is None:
            key = e["episode_id"][1:]
            when = e["start_date"] + timedelta(days=50)
            rows["contacts"].append(
                contact(f"L{key}", e["person_id"], when, by="peer", episode_id=e["episode_id"])
            )
    for i in range(40):
        start = START + timedelta(days=i)
        rows["episodes"].append(
            episode(
                f"EJ{i:03d}",
                f"PJ{i:03d}",
                start=start,
                discharge=start + timedelta(days=7),
                reason="dropped_out",
            )
        )
    return rows


def test_immortal_time_shows_in_naive_comparisons_and_not_in_the_landmark(make_warehouse) -> None:
    warehouse = make_warehouse(**immortal_time_extract())
    naive = warehouse.sql(
        "SELECT peer_contact_in_episode AS exposed, count(*) AS n, "
        "avg((NOT discharged_before_day_84)::INTEGER) AS retained FROM episode_facts GROUP BY 1 ORDER BY 1"
    ).set_index("exposed")
    assert naive.loc[True, "n"] == 170 and naive.loc[True, "retained"] == pytest.approx(140 / 170)
    assert naive.loc[False, "n"] == 70 and naive.loc[False, "retained"] == pytest.approx(0.0)
    grouped = compute_metric(
        warehouse, "retention_12wk", START, END, as_of=AS_OF, by=["peer_support"], suppress=False
    ).set_index("peer_support")
    assert grouped.loc["with_peer_support", "value"] == pytest.approx(0.7)
    assert grouped.loc["without_peer_support", "value"] == pytest.approx(0.5)
    table = compare_peer_support(warehouse, "retention_12wk", START, END, as_of=AS_OF, suppress=False)
    crude = row(table, "crude")
    assert (crude["exposed_n"], crude["unexposed_n"]) == (100, 100)
    assert crude["difference"] == pytest.approx(0.0)
    assert crude["ci_low"] < 0 < crude["ci_high"]


# -- the landmark's edges -----------------------------------------------------------------------------


def test_retention_landmark_edges(make_warehouse) -> None:
    """Day 27 and day 28: the landmark keeps an episode discharged on day 28, not one discharged on day
    27; a peer contact on day 27 is exposure, one on day 28 is not; an unattended one is not; a transfer
    before day 84 is outside retention_12wk's cohort and so outside the landmark."""
    s = d("2024-02-01")
    episodes = [
        episode("A", "PA", start=s, discharge=s + timedelta(days=27), reason="dropped_out"),
        episode("B", "PB", start=s, discharge=s + timedelta(days=28), reason="dropped_out"),
        episode("C", "PC", start=s),
        episode("D", "PD", start=s),
        episode("E", "PE", start=s),
        episode("F", "PF", start=s, discharge=s + timedelta(days=50), reason="transferred_not_in_custody"),
    ]
    contacts = [
        contact("cA", "PA", s + timedelta(days=3), by="peer"),
        contact("cC", "PC", s + timedelta(days=27), by="peer"),
        contact("cD", "PD", s + timedelta(days=28), by="peer"),
        contact("cE", "PE", s + timedelta(days=5), by="peer", attended=False),
        contact("cF", "PF", s + timedelta(days=5), by="peer"),
    ]
    warehouse = make_warehouse(episodes=episodes, contacts=contacts)
    records = peer_support_records(warehouse, "retention_12wk", START, END, as_of=AS_OF).set_index(
        "record_id"
    )
    assert list(records.index) == ["B", "C", "D", "E"]
    assert records["exposed"].to_dict() == {"B": 0, "C": 1, "D": 0, "E": 0}
    assert records["outcome"].to_dict() == {"B": 0, "C": 1, "D": 1, "E": 1}
    assert records["dose"].to_dict() == {"B": "0", "C": "1-2", "D": "0", "E": "0"}


def representation_extract() -> dict[str, list[dict]]:
    """People discharged successfully on D = 2024-02-01 after an episode from 2023-10-01; what follows
    D decides the cohort, the exposure and the outcome (see the test)."""
    discharge = d("2024-02-01")
    after = {
        "A": {"peer": [0]},  # a contact on D itself is during the episode, not after
        "B": {"peer": [28]},  # D + 28 is in the window
        "C": {"peer": [29]},  # D + 29 is not
        "D": {"referral": 28},  # re-presented by D + 28: out of the landmark cohort
        "E": {"referral": 29, "peer": [3, 4, 5]},  # re-presented on D + 29: the outcome
        "F": {"referral": 183},  # after D + 182: not re-presented
        "G": {"referral": 182, "peer": [1]},
    }
    episodes, contacts = [], []
    for name, what in after.items():
        person = f"P{name}"
        episodes.append(
            episode(
                f"E{name}", person, start=d("2023-10-01"), discharge=discharge, reason="completed_drug_free"
            )
        )
        if "referral" in what:
            episodes.append(
                episode(f"N{name}", person, referral=discharge + timedelta(days=what["referral"]))
            )
        for day in what.get("peer", []):
            contacts.append(contact(f"c{name}{day}", person, discharge + timedelta(days=day), by="peer"))
    contacts.append(contact("cGin", "PG", d("2023-12-01"), by="peer", episode_id="EG"))
    return {"episodes": episodes, "contacts": contacts}


def test_representation_landmark_edges(make_warehouse) -> None:
    warehouse = make_warehouse(**representation_extract())
    records = peer_support_records(warehouse, "representation_6m", START, END, as_of=AS_OF).set_index(
        "record_id"
    )
    assert list(records.index) == ["PA", "PB", "PC", "PE", "PF", "PG"]
    assert records["exposed"].to_dict() == {"PA": 0, "PB": 1, "PC": 0, "PE": 1, "PF": 0, "PG": 1}
    assert records["peer_contacts"].to_dict() == {"PA": 0, "PB": 1, "PC": 0, "PE": 3, "PF": 0, "PG": 1}
    assert records["dose"]["PE"] == "3+"
    assert records["outcome"].to_dict() == {"PA": 0, "PB": 0, "PC": 0, "PE": 1, "PF": 0, "PG": 1}
    assert records["timing"].to_dict() == {
        "PA": "during_only",
        "PB": "after_only",
        "PC": "neither",
        "PE": "after_only",
        "PF": "neither",
        "PG": "both",
    }


# -- dose and timing tables ---------------------------------------------------------------------------


def dose_extract() -> dict[str, list[dict]]:
    """20 episodes with no peer contact in days 0–27 (15 retained; each has a peer contact on day 30,
    after the window), 20 with one or two (18 retained), 12 with three to five (all retained); one
    unattended peer contact each in the last group, which does not count."""
    rows = cells_extract([("opiate", False, 20, 15), ("opiate", True, 20, 18), ("opiate", True, 12, 12)], "D")
    for e in rows["episodes"]:
        key, person, start = e["episode_id"][1:], e["person_id"], e["start_date"]
        cell, number = key.split("n")
        number = int(number)
        if cell == "D0":
            rows["contacts"].append(contact(f"W{key}", person, start + timedelta(days=30), by="peer"))
        if cell == "D1" and number % 2:
            rows["contacts"].append(contact(f"S{key}", person, start + timedelta(days=20), by="peer"))
        if cell == "D2":
            for extra in range(2 + number % 3):
                rows["contacts"].append(
                    contact(f"T{key}{extra}", person, start + timedelta(days=11 + extra), by="peer")
                )
            rows["contacts"].append(
                contact(f"U{key}", person, start + timedelta(days=2), by="peer", attended=False)
            )
    return rows


def test_dose_table_exact_and_shared(make_warehouse) -> None:
    warehouse = make_warehouse(**dose_extract())
    exact = peer_support_dose(warehouse, "retention_12wk", START, END, as_of=AS_OF, suppress=False)
    assert exact[["dose", "numerator", "denominator"]].to_dict("list") == {
        "dose": ["0", "1-2", "3+"],
        "numerator": [15, 18, 12],
        "denominator": [20, 20, 12],
    }
    shared = peer_support_dose(warehouse, "retention_12wk", START, END, as_of=AS_OF)
    for band, cell in (("0", "D0"), ("1-2", "D1"), ("3+", "D2")):
        where = f"episode_id LIKE 'E{cell}n%'"
        line = shared.set_index("dose").loc[band]
        if line["suppressed"]:
            continue
        assert line["denominator"] == shown_count(warehouse, "episodes", where)
        assert line["numerator"] == min(
            shown_count(warehouse, "episodes", where + " AND discharge_date IS NULL"), line["denominator"]
        )


def test_timing_table(make_warehouse) -> None:
    """Twelve people in each timing group; re-presented (a referral on D + 60): 3, 2, 1 and 0."""
    discharge = d("2024-02-01")
    episodes, contacts = [], []
    for group, represented in (("neither", 3), ("during_only", 2), ("after_only", 1), ("both", 0)):
        for i in range(12):
            person = f"P{group}{i:02d}"
            episodes.append(
                episode(
                    f"E{group}{i:02d}",
                    person,
                    start=d("2023-10-01"),
                    discharge=discharge,
                    reason="completed_drug_free",
                )
            )
            if i < represented:
                episodes.append(episode(f"N{group}{i:02d}", person, referral=discharge + timedelta(days=60)))
            if group in ("during_only", "both"):
                contacts.append(contact(f"i{group}{i:02d}", person, d("2023-11-01"), by="peer"))
            if group in ("after_only", "both"):
                contacts.append(
                    contact(f"a{group}{i:02d}", person, discharge + timedelta(days=10), by="peer")
                )
    warehouse = make_warehouse(episodes=episodes, contacts=contacts)
    exact = peer_support_timing(warehouse, "representation_6m", START, END, as_of=AS_OF, suppress=False)
    assert exact["timing"].tolist() == ["neither", "during_only", "after_only", "both"]
    assert exact["numerator"].tolist() == [3, 2, 1, 0] and exact["denominator"].tolist() == [12] * 4
    assert exact["timing_label"].iloc[1] == "during treatment only"
    shared = peer_support_timing(warehouse, "representation_6m", START, END, as_of=AS_OF)
    for line in shared.itertuples():
        if not line.suppressed:
            assert line.denominator == shown_count(warehouse, "people", f"person_id LIKE 'P{line.timing}%'")
    with pytest.raises(ValueError, match="representation_6m only"):
        peer_support_timing(warehouse, "retention_12wk", START, END, as_of=AS_OF)


# -- disclosure control and refusals ------------------------------------------------------------------


def test_small_groups_are_suppressed_when_shared_and_shown_exactly(make_warehouse) -> None:
    """Six exposed episodes: shared, both estimates are suppressed with the reason; exact, both shown."""
    warehouse = make_warehouse(**cells_extract([("opiate", True, 6, 5), ("opiate", False, 60, 40)], "S"))
    shared = compare_peer_support(warehouse, "retention_12wk", START, END, as_of=AS_OF)
    assert shared["suppressed"].all() and shared["difference"].isna().all()
    assert shared["reason"].str.startswith("suppressed").all()
    exact = compare_peer_support(warehouse, "retention_12wk", START, END, as_of=AS_OF, suppress=False)
    crude = row(exact, "crude")
    assert (crude["exposed_n"], crude["unexposed_n"]) == (6, 60)
    assert crude["difference"] == pytest.approx(5 / 6 - 40 / 60)
    adjusted = row(exact, "adjusted")  # only substance group could vary, and it does not
    assert np.isnan(adjusted["difference"]) and "nothing to adjust for" in adjusted["reason"]
    assert exact.attrs["warnings"] == [f"adjusted: {adjusted['reason']}"]


def test_refusals() -> None:
    with pytest.raises(ValueError, match="retention_12wk, representation_6m"):
        compare_peer_support(None, "early_unplanned_exit", START, END)


def test_filters_take_static_dimensions_only(confounded) -> None:
    with pytest.raises(ValueError, match="cannot filter a comparison by month"):
        compare_peer_support(
            confounded, "retention_12wk", START, END, as_of=AS_OF, filters={"month": ["2024-01"]}
        )
    alcohol = compare_peer_support(
        confounded,
        "retention_12wk",
        START,
        END,
        as_of=AS_OF,
        filters={"substance_group": ["alcohol"]},
        suppress=False,
    )
    crude = row(alcohol, "crude")
    assert (crude["exposed_n"], crude["unexposed_n"]) == (160, 40)
    assert crude["difference"] == pytest.approx(0.0)
    assert "nothing to adjust for" in row(alcohol, "adjusted")["reason"]


# -- the command line -----------------------------------------------------------------------------------


def test_rosc_compare_peer_support(confounded) -> None:
    runner = CliRunner()
    args = [
        "compare",
        "peer-support",
        "--metric",
        "retention_12wk",
        "--db",
        str(confounded.path),
        "--from",
        START.isoformat(),
        "--to",
        END.isoformat(),
        "--as-of",
        AS_OF.isoformat(),
        "--no-suppress",
    ]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split(",")[:9] == COMPARISON_COLUMNS[:9]
    table = pd.read_csv(pd.io.common.StringIO(result.stdout))
    assert table["estimate"].tolist() == ["crude", "adjusted"]
    assert table.loc[0, "difference"] == pytest.approx(0.21)
    assert "observational" in result.stderr
    filtered = runner.invoke(main, [*args, "--substance-group", "alcohol", "--format", "json"])
    assert filtered.exit_code == 0, filtered.output
    assert '"exposed_n": 160' in filtered.stdout
    assert filtered.stderr.splitlines()[-1].startswith("warning: adjusted: not estimable")


def test_one_query_of_the_cohort_serves_every_table_alike(confounded) -> None:
    """The dashboard queries the cohort once and hands it to the three tables: each equals the table
    computed from its own query; a cohort of other arguments is refused, not silently used."""
    for metric in ("retention_12wk", "representation_6m"):
        records = peer_support_records(confounded, metric, START, END, as_of=AS_OF)
        before = records.copy()
        tables = [compare_peer_support, peer_support_dose]
        if metric == "representation_6m":
            tables.append(peer_support_timing)
        for table in tables:
            own = table(confounded, metric, START, END, as_of=AS_OF)
            reused = table(confounded, metric, START, END, as_of=AS_OF, records=records)
            pd.testing.assert_frame_equal(reused, own)
            assert reused.attrs == own.attrs
        pd.testing.assert_frame_equal(records, before)  # left as it was
        with pytest.raises(ValueError, match="records are the cohort of"):
            peer_support_dose(
                confounded, metric, START, END - timedelta(days=1), as_of=AS_OF, records=records
            )
        with pytest.raises(ValueError, match="records are the cohort of"):
            peer_support_dose(
                confounded, metric, START, END, as_of=AS_OF, filters={"sex": ["male"]}, records=records
            )
