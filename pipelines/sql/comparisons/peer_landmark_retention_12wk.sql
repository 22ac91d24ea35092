-- Peer-support landmark cohort of retention_12wk (docs/metrics.md v2). Grain: one row per episode.
-- Reads `units`: the units of the retention_12wk template (its cohort, numerator = retained at 12 weeks).
-- Keeps the episodes still in treatment on day 28 (no discharge before start_date + 28). exposed: an
-- attended peer contact on days 0–27 (episode_facts.peer_contact_first_28d); peer_contacts: how many
-- (the dose). Case-mix covariates of the episode (pipelines.stats.CASE_MIX_COVARIATES), earlier_episode
-- as 'yes' / 'no'. rkey: the episode's record key, as retention_12wk counts episodes.
SELECT
  f.episode_id AS record_id,
  f.person_id,
  u.rkey,
  u.numerator AS outcome,
  f.peer_contact_first_28d::INTEGER AS exposed,
  f.peer_contacts_first_28d AS peer_contacts,
  f.substance_group,
  f.age_band,
  f.sex,
  f.injecting_status,
  f.referral_source,
  f.setting,
  CASE WHEN f.earlier_episode THEN 'yes' ELSE 'no' END AS earlier_episode
FROM units AS u
JOIN episode_facts AS f USING (episode_id)
WHERE f.discharge_date IS NULL OR f.discharge_date >= f.start_date + 28
ORDER BY record_id
