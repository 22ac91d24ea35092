-- Fragment. Grain: one row per person × static breakdown dimensions.
-- Defines the people of `in_treatment`: an episode with start_date ≤ to and (discharge_date null or
-- ≥ from). cohort_date = the first day of the period on which the person was in treatment,
-- min(greatest(start_date, from)) over their qualifying episodes.
SELECT
  person_id{{dims}},
  any_value(person_key) AS person_key,
  min(greatest(start_date, $period_start)) AS cohort_date
FROM episode_facts{{periods}}
WHERE start_date <= $period_end
  AND (discharge_date IS NULL OR discharge_date >= $period_start)
  {{filters}}
GROUP BY person_id{{dims}}
