-- Grain: one row per started episode (start_date not null).
-- Defines first_peer_contact_date: the earliest attended contact delivered by a peer (a professional by
-- experience) to the episode's person on or after the episode's start_date, in any programme or outside
-- any episode (peer support is often given by a separate recovery-community service); null when there
-- is none. peer_contacts_first_28d: how many such contacts are dated on days 0–27 of the episode
-- (start_date ≤ contact_date < start_date + 28) and not after its discharge (the landmark window's dose).
-- episode_facts turns these into the peer-support flags (peer_contact_first_28d,
-- peer_contact_in_episode). A hash join of the attended peer contacts (a fifth of all contacts) to their
-- person's episodes, then a min per episode: measured faster than an ASOF join, which sorts both sides.
SELECT
  e.episode_id,
  min(p.contact_date) AS first_peer_contact_date,
  count(p.contact_date) FILTER (
    WHERE p.contact_date < e.start_date + 28
      AND (e.discharge_date IS NULL OR p.contact_date <= e.discharge_date)
  )::INTEGER AS peer_contacts_first_28d
FROM (
  SELECT episode_id, person_id, start_date, discharge_date FROM stg_episodes WHERE start_date IS NOT NULL
) AS e
LEFT JOIN (
  SELECT person_id, contact_date FROM contacts WHERE attended AND delivered_by = 'peer'
) AS p
  ON e.person_id = p.person_id
  AND p.contact_date >= e.start_date
GROUP BY e.episode_id
