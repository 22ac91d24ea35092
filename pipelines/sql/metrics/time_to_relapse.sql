-- Metric time_to_relapse (time to event). Grain: one row per episode.
-- Who: episodes with referral_date in [from, to] (and ≤ as_of), never-started ones included. Only weeks
-- complete by as_of count (week k ends on day 7k − 1, so last_week = the lesser of $window_weeks and
-- (as_of − referral_date + 1) // 7). Event: a relapse run of relapse_tests within weeks
-- $grace_weeks + 1 … last_week; t = the day it begins, 7 × (first_relapse_week − 1), from referral.
-- Censored: at day 7 × $window_weeks (168) when followed that long, else at as_of (t = as_of − referral).
WITH cohort AS (
  SELECT
    episode_id,
    referral_date AS cohort_date{{dims}},
    record_key AS rkey,
    least($window_weeks::INTEGER, ($as_of - referral_date + 1) // 7) AS last_week,
    least(7 * $window_weeks::INTEGER, $as_of - referral_date) AS censored_day
  FROM episode_facts{{periods}}
  WHERE referral_date BETWEEN $period_start AND $period_end
    AND referral_date <= $as_of
    {{filters}}
),
relapses AS ({{fragment:_first_relapse_week}})
SELECT
  cohort_date{{dims}},
  rkey,
  coalesce(7 * (relapses.first_relapse_week - 1), censored_day) AS t,
  relapses.first_relapse_week IS NOT NULL AS event
FROM cohort
LEFT JOIN relapses USING (episode_id)
