-- Metric successful_completion. Grain: one row per episode.
-- Denominator: episodes with discharge_date in [from, to]. Numerator: outcome group successful.
SELECT
  discharge_date AS cohort_date{{dims}},
  record_key AS rkey,
  episode_id,
  (outcome_group = 'successful')::INTEGER AS numerator,
  1 AS denominator
FROM episode_facts{{periods}}
WHERE discharge_date BETWEEN $period_start AND $period_end
  {{filters}}
