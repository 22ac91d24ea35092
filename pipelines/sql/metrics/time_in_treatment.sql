-- Metric time_in_treatment (time to event). Grain: one row per episode.
-- Who: episodes with start_date in [from, to] (and ≤ as_of). t = days from start_date to
-- discharge_date, or to as_of when open at as_of. Event: a discharge with outcome group incomplete;
-- any other discharge, or still open at as_of, is censored.
-- peer_support (a unit dimension): ≥1 attended peer contact on days 0–27 of the episode (a 28-day landmark).
SELECT
  start_date AS cohort_date{{dims}},
  record_key AS rkey,
  CASE WHEN discharge_date <= $as_of THEN discharge_date - start_date
       ELSE $as_of - start_date END AS t,
  coalesce(discharge_date <= $as_of AND outcome_group = 'incomplete', false) AS event,
  rosc_peer_support(peer_contact_first_28d) AS peer_support
FROM episode_facts{{periods}}
WHERE start_date BETWEEN $period_start AND $period_end
  AND start_date <= $as_of
  {{filters}}
