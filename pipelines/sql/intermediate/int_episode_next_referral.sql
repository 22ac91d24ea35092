-- Grain: one row per discharged episode.
-- Defines next_referral_date: the earliest referral_date of any episode of the same person (any
-- programme) strictly after this episode's discharge_date; null when there is none.
SELECT
  d.episode_id,
  n.referral_date AS next_referral_date
FROM (
  SELECT episode_id, person_id, discharge_date
  FROM stg_episodes
  WHERE discharge_date IS NOT NULL
) AS d
ASOF LEFT JOIN (
  SELECT person_id, referral_date FROM stg_episodes
) AS n
  ON d.person_id = n.person_id
  AND n.referral_date > d.discharge_date
