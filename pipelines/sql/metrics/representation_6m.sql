-- Metric representation_6m. Grain: one row per person × static breakdown dimensions.
-- Denominator: people with a successful discharge in [from, to] whose latest such discharge D has
-- D + 182 ≤ as_of. Numerator: another episode referred in (D, D + 182]. cohort_date = D.
SELECT
  person_id{{dims}},
  discharge_date AS cohort_date,
  coalesce(next_referral_date <= discharge_date + 182, false)::INTEGER AS numerator,
  1 AS denominator
FROM ({{fragment:_latest_successful_discharge}})
WHERE discharge_date + 182 <= $as_of
