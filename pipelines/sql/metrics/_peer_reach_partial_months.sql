-- Fragment of peer_reach for a period that is not whole months. Grain: one row per attended contact of
-- [from, to] in a month not wholly inside it, as a first contact (and, delivered by a peer, a first
-- peer contact).
UNION ALL
SELECT
  person_id,
  person_key{{dims}},
  contact_date AS first_contact_date,
  CASE WHEN is_peer THEN contact_date END AS first_peer_contact_date
FROM contact_facts{{periods}}
WHERE attended
  AND contact_date BETWEEN $period_start AND $period_end
  AND NOT (date_trunc('month', contact_date) >= $period_start AND last_day(contact_date) <= $period_end)
  {{filters}}
