-- Grain: one row per contact without an episode_id (recovery support outside a treatment episode).
-- Defines, for these contacts only, the breakdown attributes contact_facts cannot take from a linked
-- episode: substance_group of the person's latest episode referred on or before the contact date (else
-- 'unknown'), and the person's sex and birth_year. Carries the contact's own columns so contact_facts
-- can UNION it with the linked contacts without joining back on contact_id. Small (a few % of contacts),
-- so materialising it is cheap, while the ASOF join would be too slow to run in every metric query.
SELECT
  c.contact_id,
  c.person_id,
  c.episode_id,
  c.programme_id,
  c.record_key,
  pe.record_key AS person_key,
  coalesce(e.substance_group, 'unknown') AS substance_group,
  pe.sex,
  pe.birth_year,
  c.contact_date,
  c.support_type,
  c.delivered_by,
  c.attended,
  c.duration_minutes
FROM (SELECT * FROM contacts WHERE episode_id IS NULL) AS c
ASOF LEFT JOIN (SELECT person_id, referral_date, substance_group FROM stg_episodes) AS e
  ON c.person_id = e.person_id
  AND c.contact_date >= e.referral_date
JOIN people AS pe ON pe.person_id = c.person_id
