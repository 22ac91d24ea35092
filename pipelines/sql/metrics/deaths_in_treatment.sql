-- Metric deaths_in_treatment. Grain: one row per person × static breakdown dimensions.
-- Denominator: the people of in_treatment. Numerator: those with an episode discharged as died in
-- [from, to]. cohort_date = the (earliest) death discharge date for the numerator, else the
-- in_treatment cohort date.
WITH cohort AS ({{fragment:_in_treatment_people}}),
deaths AS (
  SELECT person_id{{dims}}, min(discharge_date) AS death_date
  FROM episode_facts{{periods}}
  WHERE outcome_group = 'died'
    AND discharge_date BETWEEN $period_start AND $period_end
    {{filters}}
  GROUP BY person_id{{dims}}
)
SELECT
  person_id{{dims}},
  cohort.person_key AS rkey,
  coalesce(deaths.death_date, cohort.cohort_date) AS cohort_date,
  (deaths.death_date IS NOT NULL)::INTEGER AS numerator,
  1 AS denominator
FROM cohort
LEFT JOIN deaths USING (person_id{{dims}})
