-- Metric continuity_of_care (docs/metrics.md v2, prison → community). Grain: one row per episode.
-- Denominator: episodes in a prison programme discharged transferred_not_in_custody (released and referred
-- on) with discharge_date D in [from, to] and D + 21 ≤ as_of. Numerator: the person has an episode in a
-- programme whose setting is not prison with start_date in [D, D + 21] (a start on the day of release
-- counts; an episode open before D, or a start in another prison, does not). cohort_date = D; the
-- breakdown dimensions are the prison episode's.
SELECT
  discharge_date AS cohort_date{{dims}},
  record_key AS rkey,
  episode_id,
  coalesce(community_start_after_release <= discharge_date + 21, false)::INTEGER AS numerator,
  1 AS denominator
FROM episode_facts{{periods}}
WHERE setting = 'prison'
  AND discharge_reason = 'transferred_not_in_custody'
  AND discharge_date BETWEEN $period_start AND $period_end
  AND discharge_date + 21 <= $as_of
  {{filters}}
