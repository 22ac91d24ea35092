-- Grain: one row per started episode.
-- Defines new_presentation (docs/metrics.md v2, new_presentations): the person had no episode open on the day
-- before this episode's start S, in any programme. An episode is open on a day when it has started by
-- then and is not yet discharged (start_date ≤ day and discharge_date null or ≥ day: a person is in
-- treatment on the day of their discharge, as in_treatment counts), so a transfer discharged on S − 1
-- or S is not a new presentation, and an episode referred but never started never keeps one open.
SELECT
  s.episode_id,
  count(o.episode_id) = 0 AS new_presentation
FROM stg_episodes AS s
LEFT JOIN stg_episodes AS o
  ON o.person_id = s.person_id
  AND o.episode_id <> s.episode_id
  AND o.start_date <= s.start_date - 1
  AND (o.discharge_date IS NULL OR o.discharge_date >= s.start_date - 1)
WHERE s.start_date IS NOT NULL
GROUP BY s.episode_id
