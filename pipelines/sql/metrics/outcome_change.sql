-- Metrics qol_change, psych_health_change, phys_health_change, recovery_capital_change (continuous,
-- mean). Grain: one row per episode with an assessment pair and both scores recorded.
-- Records: the pairs of abstinence_at_review's episodes — start_date in [from, to], a start and a later
-- review/exit assessment — without its substance condition; value = latest − start score of {{measure}}.
SELECT
  start_date AS cohort_date{{dims}},
  record_key AS rkey,
  {{measure}}_latest - {{measure}}_start AS value
FROM assessment_pair_facts{{periods}}
WHERE start_date BETWEEN $period_start AND $period_end
  AND {{measure}}_start IS NOT NULL
  AND {{measure}}_latest IS NOT NULL
  {{filters}}
