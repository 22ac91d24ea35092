-- Metric completion_no_representation (PHOF-style). Grain: one row per person × static breakdown dimensions.
-- Denominator: the people of in_treatment. Numerator: those with a successful discharge in [from, to]
-- whose latest such discharge D has no episode referred in (D, D + 182]. cohort_date = D for the
-- numerator, else the in_treatment cohort date. Only defined when to + 182 ≤ as_of (checked in Python).
WITH cohort AS ({{fragment:_in_treatment_people}}),
latest AS ({{fragment:_latest_successful_discharge}}),
flagged AS (
  SELECT
    person_id{{dims}},
    cohort.person_key,
    cohort.cohort_date,
    latest.discharge_date,
    (latest.discharge_date IS NOT NULL
      AND coalesce(latest.next_referral_date > latest.discharge_date + 182, true)) AS completed
  FROM cohort
  LEFT JOIN latest USING (person_id{{dims}})
)
SELECT
  person_id{{dims}},
  person_key AS rkey,
  CASE WHEN completed THEN discharge_date ELSE cohort_date END AS cohort_date,
  completed::INTEGER AS numerator,
  1 AS denominator
FROM flagged
