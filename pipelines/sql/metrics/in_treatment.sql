-- Metric in_treatment (count). Grain: one row per person × static breakdown dimensions.
-- Numerator: the people of _in_treatment_people; cohort_date as defined there.
SELECT person_id{{dims}}, person_key AS rkey, cohort_date, 1 AS numerator
FROM ({{fragment:_in_treatment_people}})
