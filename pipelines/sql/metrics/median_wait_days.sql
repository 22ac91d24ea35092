-- Metric median_wait_days (continuous, median). Grain: one row per episode.
-- Records: episodes with start_date in [from, to]; value = start_date − referral_date in days.
SELECT
  start_date AS cohort_date{{dims}},
  record_key AS rkey,
  wait_days AS value
FROM episode_facts{{periods}}
WHERE start_date BETWEEN $period_start AND $period_end
  {{filters}}
