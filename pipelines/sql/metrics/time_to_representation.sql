-- Metric time_to_representation (time to event). Grain: one row per person × static breakdown dimensions.
-- Who: people with a successful discharge in [from, to] (D = the latest one, ≤ as_of). t = days from D to
-- the referral_date of their next episode, or to as_of. Event: a next episode by as_of; else censored.
-- peer_support (a unit dimension): ≥1 attended peer contact during the episode ending at D.
SELECT
  person_id{{dims}},
  person_key AS rkey,
  discharge_date AS cohort_date,
  CASE WHEN next_referral_date <= $as_of THEN next_referral_date - discharge_date
       ELSE $as_of - discharge_date END AS t,
  coalesce(next_referral_date <= $as_of, false) AS event,
  rosc_peer_support(peer_contact_in_episode) AS peer_support
FROM ({{fragment:_latest_successful_discharge}})
WHERE discharge_date <= $as_of
