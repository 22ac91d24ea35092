-- Metric early_unplanned_exit. Grain: one row per episode.
-- Denominator: episodes with start_date in [from, to] and start_date + 84 ≤ as_of. Numerator: those
-- discharged before start_date + 84 with outcome group incomplete.
SELECT
  start_date AS cohort_date{{dims}},
  (discharged_before_day_84 AND outcome_group = 'incomplete')::INTEGER AS numerator,
  1 AS denominator
FROM episode_facts
WHERE start_date BETWEEN $period_start AND $period_end
  AND start_date + 84 <= $as_of
  {{filters}}
