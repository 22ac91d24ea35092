-- Grain: one row per episode × study week in which the episode's person has a valid opioid test.
-- Defines the weeks of the relapse definition (docs/metrics.md v2, relapse_tests), counted from the episode's
-- referral_date: week = (test_date − referral_date) // 7 + 1, so week k holds days 7(k−1) … 7k−1 and
-- tests before referral fall in no week. positive = any of the week's opioid tests is positive.
-- Opioid tests are tests of {{opioid_test_substances}} with a valid result ({{valid_test_results}}): a
-- test of another substance (methadone, buprenorphine, ...) or an invalid sample says nothing about
-- opioid use. A person's tests count for each of their episodes by date, whatever episode_id a test
-- names (weeks run from referral, treated or not: intention to treat). A week with no row here has no
-- valid opioid test, which the relapse definition counts as a use week.
SELECT
  e.episode_id,
  (t.test_date - e.referral_date) // 7 + 1 AS week,
  bool_or(t.result = 'positive') AS positive
FROM stg_episodes AS e
JOIN drug_tests AS t
  ON t.person_id = e.person_id
  AND t.test_date >= e.referral_date
WHERE t.substance IN ({{opioid_test_substances}})
  AND t.result IN ({{valid_test_results}})
GROUP BY e.episode_id, week
ORDER BY e.episode_id, week
