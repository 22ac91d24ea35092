"""The registry of every metric of docs/metrics.md: what it is, which way is better, where its SQL lives.

A metric is data: an id, a label, a kind, an improvement direction, a one-line definition and a unit,
plus the SQL template (``pipelines/sql/metrics/<template>.sql``) that defines its units of count. The
SQL is written once per metric and parameterised by period, as_of, breakdown and filters
(`pipelines.metrics.query`).

A metric may also declare parameters of its definition (`MetricParameter`: relapse_tests' grace weeks,
run length and window), each an integer with a default and bounds. `resolve_parameters` checks what a
caller gives against the declaration and fills in the defaults; the values reach the SQL only as DuckDB
parameters (``$grace_weeks``), never in its text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from pipelines.contract import DISCHARGE_REASONS, OUTCOME_GROUPS

MetricKind = Literal["count", "proportion", "continuous", "survival"]
Improvement = Literal["up", "down"] | None

#: Breakdown dimensions a metric can be grouped or filtered by (docs/metrics.md). The static ones are columns
#: of the fact tables; month and quarter are labels of the date that puts a record in the cohort.
STATIC_DIMENSIONS: tuple[str, ...] = (
    "programme",
    "provider",
    "area",
    "setting",
    "substance_group",
    "sex",
    "age_band",
)
TIME_DIMENSIONS: tuple[str, ...] = ("month", "quarter")
#: Dimensions that only some metrics define, as a column of their units (see `Metric.unit_dimensions`):
#: grouped and filtered after the metric has formed its units, like month and quarter.
#: - peer_support ('with_peer_support' / 'without_peer_support'): for episode cohorts (retention_12wk,
#:   early_unplanned_exit, time_in_treatment) whether the person had ≥1 attended peer contact on days
#:   0–27 of the episode (a 28-day landmark, episode_facts.peer_contact_first_28d); for people after a
#:   successful discharge D (representation_6m, time_to_representation) whether they had one during the
#:   episode ending at D (episode_facts.peer_contact_in_episode). Observational: see `CONVENTIONS`.
#: - outcome_group, discharge_reason: of a discharged episode (exit_reason_mix).
UNIT_DIMENSIONS: tuple[str, ...] = ("peer_support", "outcome_group", "discharge_reason")
DIMENSIONS: tuple[str, ...] = STATIC_DIMENSIONS + TIME_DIMENSIONS + UNIT_DIMENSIONS
#: The age bands of docs/metrics.md (the warehouse's ``rosc_age_band``), in order; "unknown" for an age under
#: 18 or missing.
AGE_BANDS: tuple[str, ...] = (
    "18-24",
    "25-29",
    "30-34",
    "35-39",
    "40-44",
    "45-49",
    "50-54",
    "55-64",
    "65+",
    "unknown",
)
#: The programme-level dimensions: every programme has one value of each (stg_programmes).
STRUCTURAL_DIMENSIONS: tuple[str, ...] = ("programme", "provider", "area", "setting")
#: The values of the peer_support dimension.
PEER_SUPPORT_VALUES: tuple[str, str] = ("with_peer_support", "without_peer_support")
#: Every value each unit dimension can take, in display order: a mix over one of them always shows all
#: of them, so whether a category is empty is never told by a missing row.
UNIT_DIMENSION_VALUES: dict[str, tuple[str, ...]] = {
    "peer_support": PEER_SUPPORT_VALUES,
    "outcome_group": tuple(dict.fromkeys(OUTCOME_GROUPS.values())),
    "discharge_reason": DISCHARGE_REASONS,
}


@dataclass(frozen=True)
class MetricParameter:
    """A parameter of a metric's definition: an integer with a default (docs/metrics.md) and bounds."""

    name: str
    default: int
    minimum: int
    maximum: int
    description: str

    def describe(self) -> dict[str, object]:
        return {
            "default": self.default,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "description": self.description,
        }


#: SQL parameter names the metric layer itself uses; a metric parameter may not take one of them.
RESERVED_PARAMETER_NAMES = frozenset(
    {"period_start", "period_end", "as_of", "z", "series_starts", "series_ends"}
)


@dataclass(frozen=True)
class Metric:
    """One metric of docs/metrics.md."""

    id: str
    label: str
    kind: MetricKind
    improvement: Improvement
    definition: str
    unit: str
    grain: Literal["episode", "person", "contact", "assessment pair"]
    template: str = ""
    template_values: dict[str, str] = field(default_factory=dict)
    statistic: Literal["proportion", "count", "mean", "median", "kaplan_meier"] = "proportion"
    #: Columns summed over the units (numerator, denominator and any record counts).
    sum_columns: tuple[str, ...] = ("numerator", "denominator")
    #: (numerator, denominator) count columns disclosure control is applied to, when they differ from the
    #: reported ones (peer_minutes_share reports minutes but suppresses on the contacts behind them).
    suppression_pair: tuple[str, str] = ("numerator", "denominator")
    #: Days of follow-up after `to` the metric needs before it is defined (to + n ≤ as_of).
    needs_follow_up_days: int = 0
    #: (what dates the cohort, days): the cohort keeps only the records with this many days of follow-up
    #: by as_of (retention: starts with start_date + 84 ≤ as_of), so a period ending less than that
    #: before as_of is cut short; the dashboard's tiles say so (`cohort_cut_short`). Metrics whose
    #: days come from a parameter give the default here.
    cohort_follow_up: tuple[str, int] | None = None
    #: The `UNIT_DIMENSIONS` this metric's units carry as columns (its SQL template selects them).
    unit_dimensions: tuple[str, ...] = ()
    #: Parameters of the definition, with docs/metrics.md's values as defaults (`resolve_parameters`).
    parameters: tuple[MetricParameter, ...] = ()
    #: A check across the parameters' values: a message saying what is wrong, or None.
    parameter_check: Callable[[Mapping[str, int]], str | None] | None = None

    @property
    def sql_template(self) -> str:
        return self.template or self.id

    def describe(self) -> dict[str, object]:
        return {
            "id": self.id,
            "label": self.label,
            "kind": self.kind,
            "improvement": self.improvement,
            "definition": self.definition,
            "unit": self.unit,
            "grain": self.grain,
            "statistic": self.statistic,
            "extra_dimensions": list(self.unit_dimensions),
            "parameters": {p.name: p.default for p in self.parameters},
            "cohort_follow_up": list(self.cohort_follow_up) if self.cohort_follow_up else None,
        }

    def parameter(self, name: str) -> MetricParameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)


def _proportion(id_: str, label: str, improvement: Improvement, definition: str, grain, **kw) -> Metric:
    return Metric(id_, label, "proportion", improvement, definition, "proportion", grain, **kw)


def _change(id_: str, measure: str, label: str, unit: str) -> Metric:
    return Metric(
        id_,
        label,
        "continuous",
        "up",
        f"Mean change in {measure} from the start assessment to the latest later review/exit assessment of "
        "episodes starting in the period (pairs with both scores recorded).",
        unit,
        "assessment pair",
        template="outcome_change",
        template_values={"measure": measure},
        statistic="mean",
        sum_columns=(),
    )


def _relapse_run_fits(values: Mapping[str, int]) -> str | None:
    """A run must fit between the grace period and the end of the window."""
    grace, run, window = values["grace_weeks"], values["run_length"], values["window_weeks"]
    if grace + run > window:
        return (
            f"a run of {run} week(s) cannot fit in weeks {grace + 1}–{window} "
            f"(grace_weeks + run_length must be ≤ window_weeks; got {grace} + {run} > {window})"
        )
    return None


#: The relapse definition's parameters (docs/metrics.md v2, after the X:BOT trial: Lee et al., Lancet 2018).
RELAPSE_PARAMETERS: tuple[MetricParameter, ...] = (
    MetricParameter(
        "grace_weeks",
        3,
        0,
        260,
        "weeks from referral in which use does not count (the induction grace period); a run starts "
        "in week grace_weeks + 1 or later",
    ),
    MetricParameter("run_length", 4, 1, 260, "consecutive use weeks that make a relapse"),
    MetricParameter(
        "window_weeks",
        24,
        1,
        260,
        "the last week a run may reach; relapse_tests' cohort needs 7 × window_weeks days of follow-up",
    ),
)


METRICS: dict[str, Metric] = {
    m.id: m
    for m in (
        Metric(
            "in_treatment",
            "People in treatment",
            "count",
            None,
            "Distinct people with an episode where start_date ≤ to and discharge_date is null or ≥ from.",
            "people",
            "person",
            statistic="count",
            sum_columns=("numerator",),
        ),
        _proportion(
            "retention_12wk",
            "Retained in treatment at 12 weeks",
            "up",
            "Episodes starting in the period (with 84 days of follow-up by as_of, leaving out transfers and "
            "deaths before day 84) with no discharge before day 84 or a successful discharge before it.",
            "episode",
            unit_dimensions=("peer_support",),
            cohort_follow_up=("starts", 84),
        ),
        _proportion(
            "early_unplanned_exit",
            "Unplanned exit before 12 weeks",
            "down",
            "Episodes starting in the period (with 84 days of follow-up by as_of) discharged incomplete "
            "before day 84.",
            "episode",
            unit_dimensions=("peer_support",),
            cohort_follow_up=("starts", 84),
        ),
        _proportion(
            "successful_completion",
            "Successful completion",
            "up",
            "Episodes discharged in the period whose discharge reason is in the successful outcome group.",
            "episode",
        ),
        _proportion(
            "representation_6m",
            "Re-presentation within 6 months",
            "down",
            "People whose latest successful discharge D in the period has D + 182 ≤ as_of, with another "
            "episode referred in (D, D + 182].",
            "person",
            unit_dimensions=("peer_support",),
            cohort_follow_up=("successful discharges", 182),
        ),
        _proportion(
            "completion_no_representation",
            "Successful completion without re-presentation (PHOF-style)",
            "up",
            "People in treatment in the period with a successful discharge in it whose latest such "
            "discharge D has no episode referred in (D, D + 182]; needs to + 182 ≤ as_of.",
            "person",
            needs_follow_up_days=182,
        ),
        _proportion(
            "continuity_of_care",
            "Continuity of care after prison release",
            "up",
            "Episodes in a prison programme discharged as released and referred on "
            "(transferred_not_in_custody) in the period, with 21 days of follow-up by as_of, whose person "
            "started an episode in a non-prison programme within 21 days of release (days 0–21).",
            "episode",
            cohort_follow_up=("releases", 21),
        ),
        _proportion(
            "waiting_over_3_weeks",
            "Waited over 3 weeks to start",
            "down",
            "Episodes starting in the period with start_date − referral_date > 21 days.",
            "episode",
        ),
        _proportion(
            "peer_contact_share",
            "Share of contacts delivered by peers",
            "up",
            "Attended contacts in the period delivered by professionals by experience (peers).",
            "contact",
        ),
        _proportion(
            "peer_minutes_share",
            "Share of contact minutes delivered by peers",
            "up",
            "Minutes of attended contacts in the period (with a duration) delivered by peers, over all such "
            "minutes.",
            "contact",
            sum_columns=("numerator", "denominator", "numerator_records", "denominator_records"),
            suppression_pair=("numerator_records", "denominator_records"),
        ),
        _proportion(
            "peer_reach",
            "People reached by peer support",
            "up",
            "People with an attended contact in the period who had at least one attended peer contact in it.",
            "person",
        ),
        _proportion(
            "abstinence_at_review",
            "Abstinent from primary substance at review",
            "up",
            "Episodes starting in the period with a start and a later review/exit assessment, using their "
            "primary substance at start, whose latest review/exit shows 0 days of use.",
            "assessment pair",
        ),
        _proportion(
            "deaths_in_treatment",
            "Deaths in treatment",
            "down",
            "People in treatment in the period with an episode discharged as died in the period.",
            "person",
        ),
        Metric(
            "median_wait_days",
            "Median wait from referral to start",
            "continuous",
            "down",
            "Median of start_date − referral_date over episodes starting in the period.",
            "days",
            "episode",
            statistic="median",
            sum_columns=(),
        ),
        _change("qol_change", "quality_of_life", "Change in quality of life (TOP)", "points (0–20)"),
        _change(
            "psych_health_change", "psych_health", "Change in psychological health (TOP)", "points (0–20)"
        ),
        _change("phys_health_change", "phys_health", "Change in physical health (TOP)", "points (0–20)"),
        _change(
            "recovery_capital_change",
            "recovery_capital",
            "Change in recovery capital (BARC-10)",
            "points (10–60)",
        ),
        Metric(
            "time_in_treatment",
            "Time in treatment to unplanned exit",
            "survival",
            "up",
            "Kaplan–Meier of days from start to an incomplete discharge for episodes starting in the "
            "period; other discharges and open episodes are censored.",
            "days",
            "episode",
            statistic="kaplan_meier",
            sum_columns=(),
            unit_dimensions=("peer_support",),
        ),
        Metric(
            "time_to_representation",
            "Time to re-presentation after successful discharge",
            "survival",
            "up",
            "Kaplan–Meier of days from a person's latest successful discharge D in the period to their next "
            "referral; censored at as_of.",
            "days",
            "person",
            statistic="kaplan_meier",
            sum_columns=(),
            unit_dimensions=("peer_support",),
        ),
        _proportion(
            "relapse_tests",
            "Relapse from drug tests (trial definition)",
            "down",
            "Episodes referred in the period with 7 × window_weeks (168) days of follow-up by as_of, never-"
            "started ones included (intention to treat), with run_length (4) consecutive use weeks within "
            "weeks grace_weeks + 1 … window_weeks (4–24) counted from referral; a use week has an "
            "opioid-positive test (opiates or fentanyl) or no valid opioid test (a missed test counts as "
            "use; a methadone or buprenorphine positive is not opioid use).",
            "episode",
            parameters=RELAPSE_PARAMETERS,
            parameter_check=_relapse_run_fits,
            cohort_follow_up=("referrals", 168),
        ),
        Metric(
            "time_to_relapse",
            "Time to relapse from drug tests",
            "survival",
            "up",
            "Kaplan–Meier of the day (from referral) the first relapse run of relapse_tests begins, for "
            "episodes referred in the period; censored at day 7 × window_weeks (168) or at as_of (only "
            "weeks complete by as_of count).",
            "days",
            "episode",
            statistic="kaplan_meier",
            sum_columns=(),
            parameters=RELAPSE_PARAMETERS,
            parameter_check=_relapse_run_fits,
        ),
        Metric(
            "new_presentations",
            "New presentations",
            "count",
            None,
            "Distinct people with an episode starting in the period who had no episode open (started and "
            "not yet discharged) on the day before that start.",
            "people",
            "person",
            statistic="count",
            sum_columns=("numerator",),
        ),
        Metric(
            "exit_reason_mix",
            "Discharges by outcome",
            "count",
            None,
            "Episodes discharged in the period, by outcome group or discharge reason (break down by "
            "outcome_group or discharge_reason for the mix; compute_mix gives shares of each cell's total).",
            "discharges",
            "episode",
            statistic="count",
            sum_columns=("numerator",),
            unit_dimensions=("outcome_group", "discharge_reason"),
        ),
    )
}


def get_metric(name: str) -> Metric:
    """The registered metric called ``name``; a clear KeyError otherwise."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; available: {', '.join(METRICS)}") from None


def resolve_parameters(metric: Metric, given: Mapping[str, object] | None = None) -> dict[str, int]:
    """Every parameter `metric` declares, with the value `given` names (else its default), checked.

    ValueError for a parameter the metric does not declare (a metric without parameters takes none), a
    value that is not a whole number, one outside its bounds, or values that do not fit together.
    """
    given = dict(given or {})
    declared = {p.name: p for p in metric.parameters}
    unknown = [name for name in given if name not in declared]
    if unknown:
        if not declared:
            raise ValueError(f"{metric.id} takes no parameters (given: {', '.join(map(str, unknown))})")
        raise ValueError(
            f"{metric.id} has no parameter {', '.join(map(repr, unknown))}; its parameters are "
            f"{', '.join(declared)}"
        )
    values: dict[str, int] = {}
    for name, parameter in declared.items():
        value = given.get(name, parameter.default)
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ValueError(f"{metric.id}: {name} must be a whole number, not {value!r}")
        if not parameter.minimum <= value <= parameter.maximum:
            raise ValueError(
                f"{metric.id}: {name} must be from {parameter.minimum} to {parameter.maximum}, not {value}"
            )
        values[name] = value
    if metric.parameter_check is not None and (problem := metric.parameter_check(values)):
        raise ValueError(f"{metric.id}: {problem}")
    return values


def _check_registry() -> None:
    for metric in METRICS.values():
        for parameter in metric.parameters:
            if parameter.name in RESERVED_PARAMETER_NAMES or parameter.name.startswith("filter_"):
                raise ValueError(f"{metric.id}: parameter name {parameter.name!r} is reserved")


_check_registry()
