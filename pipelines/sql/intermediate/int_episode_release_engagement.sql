-- Grain: one row per episode in a prison programme with a discharge date.
-- Defines community_start_after_release: the earliest start_date on or after this episode's
-- discharge_date (the release, D) of any episode of the same person in a programme whose setting is not
-- prison; null when there is none. continuity_of_care (docs/metrics.md v2) counts it when it is ≤ D + 21.
-- An episode already open in the community before D does not count: it did not start after release.
SELECT
  r.episode_id,
  n.start_date AS community_start_after_release
FROM (
  SELECT e.episode_id, e.person_id, e.discharge_date
  FROM stg_episodes AS e
  JOIN stg_programmes AS p USING (programme_id)
  WHERE p.setting = 'prison' AND e.discharge_date IS NOT NULL
) AS r
ASOF LEFT JOIN (
  SELECT e.person_id, e.start_date
  FROM stg_episodes AS e
  JOIN stg_programmes AS p USING (programme_id)
  WHERE p.setting <> 'prison' AND e.start_date IS NOT NULL
) AS n
  ON r.person_id = n.person_id
  AND n.start_date >= r.discharge_date
