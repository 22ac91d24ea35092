-- Metric peer_reach. Grain: one row per person × static breakdown dimensions.
-- Denominator: people with an attended contact in [from, to]. Numerator: those with at least one
-- attended peer contact in [from, to]. cohort_date = first attended peer contact for the numerator,
-- else first attended contact.
-- A person's contacts come from their rows of contact_person_months for each whole month of [from, to]
-- (their first contact and first peer contact of the month, per cell) and, for a period that is not
-- whole months, from their attended contacts of its partial months (contact_facts).
SELECT
  person_id{{dims}},
  any_value(person_key) AS rkey,
  coalesce(min(first_peer_contact_date), min(first_contact_date)) AS cohort_date,
  (count(first_peer_contact_date) > 0)::INTEGER AS numerator,
  1 AS denominator
FROM (
  SELECT person_id, person_key{{dims}}, first_contact_date, first_peer_contact_date
  FROM contact_person_months{{periods}}
  WHERE month_start >= $period_start
    AND month_end <= $period_end
    {{filters}}
  {{partial_months:_peer_reach_partial_months}}
) AS reached
GROUP BY person_id{{dims}}
