-- Metric relapse_tests (relapse, trial definition). Grain: one row per episode.
-- Denominator: episodes with referral_date in [from, to] and referral_date + 7 × $window_weeks ≤ as_of
-- (168 days by default), never-started ones included (intention to treat). Numerator: those with a
-- relapse, $run_length (4) consecutive use weeks within weeks $grace_weeks + 1 … $window_weeks (4–24)
-- counted from referral, a use week having an opioid-positive test or no valid opioid test
-- (_first_relapse_week). cohort_date = referral_date.
WITH cohort AS (
  SELECT
    episode_id,
    referral_date AS cohort_date{{dims}},
    record_key AS rkey,
    $window_weeks::INTEGER AS last_week
  FROM episode_facts{{periods}}
  WHERE referral_date BETWEEN $period_start AND $period_end
    AND referral_date + 7 * $window_weeks::INTEGER <= $as_of
    {{filters}}
),
relapses AS ({{fragment:_first_relapse_week}})
SELECT
  cohort_date{{dims}},
  rkey,
  (relapses.first_relapse_week IS NOT NULL)::INTEGER AS numerator,
  1 AS denominator
FROM cohort
LEFT JOIN relapses USING (episode_id)
