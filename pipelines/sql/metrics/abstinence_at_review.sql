-- Metric abstinence_at_review. Grain: one row per episode with an assessment pair.
-- Denominator: episodes with start_date in [from, to] that have a start assessment and a later
-- review/exit (assessment_pair_facts), whose primary substance maps to a days column with a value > 0
-- at start. Numerator: the latest review/exit shows 0 days (a missing value there is not 0).
SELECT
  start_date AS cohort_date{{dims}},
  record_key AS rkey,
  coalesce(substance_days_latest = 0, false)::INTEGER AS numerator,
  1 AS denominator
FROM assessment_pair_facts{{periods}}
WHERE start_date BETWEEN $period_start AND $period_end
  AND substance_days_start > 0
  {{filters}}
