-- Metric early_unplanned_exit. Grain: one row per episode.
-- Denominator: episodes with start_date in [from, to] and start_date + 84 ≤ as_of. Numerator: those
-- discharged before start_date + 84 with outcome group incomplete.
-- peer_support (a unit dimension): ≥1 attended peer contact on days 0–27 of the episode (a 28-day landmark).
SELECT
  start_date AS cohort_date{{dims}},
  record_key AS rkey,
  episode_id,
  (discharged_before_day_84 AND outcome_group = 'incomplete')::INTEGER AS numerator,
  1 AS denominator,
  rosc_peer_support(peer_contact_first_28d) AS peer_support
FROM episode_facts{{periods}}
WHERE start_date BETWEEN $period_start AND $period_end
  AND start_date + 84 <= $as_of
  {{filters}}
