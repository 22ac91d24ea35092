-- Metric exit_reason_mix (count). Grain: one row per discharged episode.
-- Numerator: episodes with discharge_date in [from, to] (and a discharge reason); cohort_date =
-- discharge_date. Carries outcome_group and discharge_reason (unit dimensions) so the count can be broken
-- down into the mix of how episodes ended, with the metric layer's disclosure control.
SELECT
  discharge_date AS cohort_date{{dims}},
  record_key AS rkey,
  outcome_group,
  discharge_reason,
  1 AS numerator
FROM episode_facts{{periods}}
WHERE discharge_date BETWEEN $period_start AND $period_end
  AND outcome_group IS NOT NULL
  {{filters}}
