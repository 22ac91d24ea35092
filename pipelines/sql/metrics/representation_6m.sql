-- Metric representation_6m. Grain: one row per person × static breakdown dimensions.
-- Denominator: people with a successful discharge in [from, to] whose latest such discharge D has
-- D + 182 ≤ as_of. Numerator: another episode referred in (D, D + 182]. cohort_date = D.
-- peer_support (a unit dimension): ≥1 attended peer contact during the episode ending at D.
SELECT
  person_id{{dims}},
  person_key AS rkey,
  discharge_date AS cohort_date,
  coalesce(next_referral_date <= discharge_date + 182, false)::INTEGER AS numerator,
  1 AS denominator,
  rosc_peer_support(peer_contact_in_episode) AS peer_support
FROM ({{fragment:_latest_successful_discharge}})
WHERE discharge_date + 182 <= $as_of
