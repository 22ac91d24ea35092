-- Metric new_presentations (count). Grain: one row per person × static breakdown dimensions.
-- Numerator: distinct people with an episode starting in [from, to] who had no episode open (started
-- and not discharged, in any programme) on the day before that start (episode_facts.new_presentation,
-- from int_episode_new_presentation). cohort_date = the person's first such start in the period.
SELECT
  person_id{{dims}},
  any_value(person_key) AS rkey,
  min(start_date) AS cohort_date,
  1 AS numerator
FROM episode_facts{{periods}}
WHERE new_presentation
  AND start_date BETWEEN $period_start AND $period_end
  {{filters}}
GROUP BY person_id{{dims}}
