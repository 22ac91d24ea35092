-- Case-mix records of an episode-based metric (retention_12wk, early_unplanned_exit,
-- successful_completion) broken down by unit (docs/metrics.md v2, indirect standardisation). Grain: one row
-- per unit of the metric × breakdown cell. Reads `units`: the metric template's units with the breakdown
-- column `{{unit}}`. outcome = the metric's numerator; the case-mix covariates are the episode's.
SELECT
  u.{{unit}} AS unit,
  u.numerator AS outcome,
  f.person_id,
  f.substance_group,
  f.age_band,
  f.sex,
  f.injecting_status,
  f.referral_source,
  f.setting,
  CASE WHEN f.earlier_episode THEN 'yes' ELSE 'no' END AS earlier_episode
FROM units AS u
JOIN episode_facts AS f USING (episode_id)
WHERE u.denominator = 1
ORDER BY unit, f.episode_id
