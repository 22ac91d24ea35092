-- Grain: one row per episode with an assessment pair (int_assessment_pairs) — the fact table of
-- abstinence_at_review and the TOP / recovery-capital change measures.
-- Defines the pair with its episode's breakdown dimensions and start_date (the cohort date).
-- Sorted by start_date then programme.
SELECT
  f.episode_id,
  f.person_id,
  f.record_key,
  f.person_key,
  f.programme,
  f.provider,
  f.area,
  f.setting,
  f.substance_group,
  f.sex,
  f.age_band,
  f.start_date,
  f.primary_substance,
  f.substance_days_column,
  a.* EXCLUDE (episode_id)
FROM int_assessment_pairs AS a
JOIN episode_facts AS f USING (episode_id)
ORDER BY f.start_date, f.programme, f.episode_id
