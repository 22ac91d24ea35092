-- Metric waiting_over_3_weeks. Grain: one row per episode.
-- Denominator: episodes with start_date in [from, to]. Numerator: start_date − referral_date > 21.
SELECT
  start_date AS cohort_date{{dims}},
  record_key AS rkey,
  (wait_days > 21)::INTEGER AS numerator,
  1 AS denominator
FROM episode_facts{{periods}}
WHERE start_date BETWEEN $period_start AND $period_end
  {{filters}}
