-- Metric peer_contact_share. Grain: one row per cell of contact_months (the attended contacts of a
-- month × breakdown dimensions, peer-delivered or not) for each whole month of [from, to]; for a period
-- that is not whole months, also one row per attended contact of its partial months (contact_facts).
-- Denominator: attended contacts with contact_date in [from, to]. Numerator: delivered by peers.
-- rkey is the sum of the record keys of the contacts a row counts, so a count's key sum is that of its
-- contacts, as if each contact were a row.
SELECT
  month_start AS cohort_date{{dims}},
  contacts_key AS rkey,
  CASE WHEN is_peer THEN contacts ELSE 0 END AS numerator,
  contacts AS denominator
FROM contact_months{{periods}}
WHERE month_start >= $period_start
  AND month_end <= $period_end
  {{filters}}
{{partial_months:_peer_contact_share_partial_months}}
