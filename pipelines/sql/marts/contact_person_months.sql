-- Grain: one row per person × calendar month × programme × substance_group × sex × age_band in which the
-- person had an attended contact (of contact_facts); the exact person-period table of peer_reach.
-- Defines month_start / month_end (the first and last day of the month), the breakdown dimensions of
-- contact_facts, person_key (the person's record key, for cell-key perturbation: a person counts once
-- per cell, with their own key), first_contact_date (their earliest attended contact in the month and
-- cell) and first_peer_contact_date (their earliest attended contact delivered by a peer; null when
-- none). A person reached in several months or cells has a row in each, so a period of whole months is
-- the union of its months' rows, grouped by person: exact, unlike a distinct-count sketch.
-- Why: peer_reach scanned every contact of its period and grouped them by person on every request. A
-- period that is not whole months takes its partial months from contact_facts (pipelines.metrics.query:
-- partial_months).
-- Sorted by month_start then programme, so a period's scan skips row groups.
SELECT
  person_id,
  any_value(person_key) AS person_key,
  date_trunc('month', contact_date)::DATE AS month_start,
  last_day(contact_date) AS month_end,
  programme,
  provider,
  area,
  setting,
  substance_group,
  sex,
  age_band,
  min(contact_date) AS first_contact_date,
  min(contact_date) FILTER (WHERE is_peer) AS first_peer_contact_date
FROM contact_facts
WHERE attended
GROUP BY person_id, month_start, month_end, programme, provider, area, setting, substance_group, sex, age_band
ORDER BY month_start, programme
