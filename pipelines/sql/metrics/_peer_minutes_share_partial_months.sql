-- Fragment of peer_minutes_share for a period that is not whole months. Grain: one row per attended
-- contact with a duration of [from, to] in a month not wholly inside it.
UNION ALL
SELECT
  contact_date AS cohort_date{{dims}},
  record_key AS rkey,
  CASE WHEN is_peer THEN duration_minutes ELSE 0 END AS numerator,
  duration_minutes AS denominator,
  is_peer::INTEGER AS numerator_records,
  1 AS denominator_records
FROM contact_facts{{periods}}
WHERE attended
  AND duration_minutes IS NOT NULL
  AND contact_date BETWEEN $period_start AND $period_end
  AND NOT (date_trunc('month', contact_date) >= $period_start AND last_day(contact_date) <= $period_end)
  {{filters}}
