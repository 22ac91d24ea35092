-- Metric peer_minutes_share (a share of minutes, not of contacts). Grain: one row per cell of
-- contact_months holding contacts with a duration, for each whole month of [from, to]; for a period that
-- is not whole months, also one row per attended contact with a duration of its partial months.
-- Denominator: duration_minutes of attended contacts in [from, to] with a duration. Numerator: the
-- minutes delivered by peers. numerator_records / denominator_records count the contacts behind the
-- minutes; disclosure control is applied to them. rkey is the sum of the record keys of those contacts
-- (a duration is at least 1 minute, so a row with minutes is a row with contacts).
SELECT
  month_start AS cohort_date{{dims}},
  timed_key AS rkey,
  CASE WHEN is_peer THEN timed_minutes ELSE 0 END AS numerator,
  timed_minutes AS denominator,
  CASE WHEN is_peer THEN timed_contacts ELSE 0 END AS numerator_records,
  timed_contacts AS denominator_records
FROM contact_months{{periods}}
WHERE timed_contacts > 0
  AND month_start >= $period_start
  AND month_end <= $period_end
  {{filters}}
{{partial_months:_peer_minutes_share_partial_months}}
