-- Metric peer_minutes_share (a share of minutes, not of contacts). Grain: one row per attended contact
-- with a duration.
-- Denominator: duration_minutes of attended contacts in [from, to] with a duration. Numerator: the
-- minutes delivered by peers. numerator_records / denominator_records count the contacts behind the
-- minutes; disclosure control is applied to them.
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
  {{filters}}
