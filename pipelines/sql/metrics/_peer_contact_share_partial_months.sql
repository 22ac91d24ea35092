-- Fragment of peer_contact_share for a period that is not whole months. Grain: one row per attended
-- contact of [from, to] in a month not wholly inside it.
UNION ALL
SELECT
  contact_date AS cohort_date{{dims}},
  record_key AS rkey,
  is_peer::INTEGER AS numerator,
  1 AS denominator
FROM contact_facts{{periods}}
WHERE attended
  AND contact_date BETWEEN $period_start AND $period_end
  AND NOT (date_trunc('month', contact_date) >= $period_start AND last_day(contact_date) <= $period_end)
  {{filters}}
