-- Fragment. Grain: one row per episode of the `cohort` relation (episode_id, last_week) that relapsed.
-- Defines first_relapse_week: the first week of the earliest run of $run_length consecutive use weeks
-- within weeks $grace_weeks + 1 … last_week. A use week is a week with an opioid-positive test or no
-- valid opioid test (no row, or a positive row, in int_drug_test_weeks), so the weeks that break runs
-- are the tested-negative ones: between two of them (or the window's edges, weeks $grace_weeks and
-- last_week + 1) every week is use, and the stretch is a run when it is at least $run_length long. It
-- begins the week after the negative week (or the grace period) that opens it.
WITH windows AS (
  SELECT DISTINCT episode_id, last_week FROM cohort
),
negative_weeks AS (
  SELECT w.episode_id, w.week
  FROM int_drug_test_weeks AS w
  JOIN windows USING (episode_id)
  WHERE NOT w.positive
    AND w.week BETWEEN $grace_weeks::INTEGER + 1 AND windows.last_week
),
edges AS (
  SELECT episode_id, week FROM negative_weeks
  UNION ALL
  SELECT episode_id, $grace_weeks::INTEGER FROM windows
  UNION ALL
  SELECT episode_id, last_week + 1 FROM windows
),
stretches AS (
  SELECT
    episode_id,
    week + 1 AS run_start,
    lead(week) OVER (PARTITION BY episode_id ORDER BY week) - week - 1 AS use_weeks
  FROM edges
)
SELECT episode_id, min(run_start) AS first_relapse_week
FROM stretches
WHERE use_weeks >= $run_length::INTEGER
GROUP BY episode_id
