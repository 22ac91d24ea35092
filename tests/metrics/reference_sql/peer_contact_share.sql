-- Metric peer_contact_share. Grain: one row per attended contact.
-- Denominator: attended contacts with contact_date in [from, to]. Numerator: delivered by peers.
SELECT
  contact_date AS cohort_date{{dims}},
  record_key AS rkey,
  is_peer::INTEGER AS numerator,
  1 AS denominator
FROM contact_facts{{periods}}
WHERE attended
  AND contact_date BETWEEN $period_start AND $period_end
  {{filters}}
