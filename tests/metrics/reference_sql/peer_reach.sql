-- Metric peer_reach. Grain: one row per person × static breakdown dimensions.
-- Denominator: people with an attended contact in [from, to]. Numerator: those with at least one
-- attended peer contact in [from, to]. cohort_date = first attended peer contact for the numerator,
-- else first attended contact.
SELECT
  person_id{{dims}},
  any_value(person_key) AS rkey,
  coalesce(min(contact_date) FILTER (WHERE is_peer), min(contact_date)) AS cohort_date,
  bool_or(is_peer)::INTEGER AS numerator,
  1 AS denominator
FROM contact_facts{{periods}}
WHERE attended
  AND contact_date BETWEEN $period_start AND $period_end
  {{filters}}
GROUP BY person_id{{dims}}
