-- Grain: one row per contact (attended or not); the fact table of the peer-support metrics. A VIEW.
-- Defines the breakdown dimensions for a contact: programme/provider/area/setting of the contact's
-- programme; substance_group of the linked episode, else of the person's latest episode referred on or
-- before the contact date, else 'unknown'; sex of the person; age_band from year(contact_date) −
-- birth_year (a contact has no start or referral date of its own). is_peer = delivered by a
-- professional by experience. Carries episode_id (null outside an episode), and the contact's and the
-- person's record keys (record_key, person_key) for cell-key perturbation.
-- Why a view: copying 8M contacts into a second table cost more than loading them (8–12 s on 200,000
-- people), while a metric query over this view costs one join of the contacts in its period with
-- episode_facts (by episode_id) and programmes, about 0.1 s a year. Linked contacts take sex and
-- birth_year from their episode's row: docs/contract.md requires a contact's episode to exist and belong
-- to the same person (the loader enforces it), so that equals the contact's person.
WITH dimensioned AS (
  SELECT
    c.contact_id,
    c.person_id,
    c.episode_id,
    c.programme_id,
    c.record_key,
    e.person_key,
    e.substance_group,
    e.sex,
    e.birth_year,
    c.contact_date,
    c.support_type,
    c.delivered_by,
    c.attended,
    c.duration_minutes
  FROM contacts AS c
  JOIN episode_facts AS e USING (episode_id)
  UNION ALL BY NAME
  SELECT * FROM int_unlinked_contacts
)

SELECT
  c.contact_id,
  c.person_id,
  c.episode_id,
  c.record_key,
  c.person_key,
  c.programme_id AS programme,
  p.provider_id AS provider,
  p.area_code AS area,
  p.setting,
  c.substance_group,
  c.sex,
  rosc_age_band(year(c.contact_date) - c.birth_year) AS age_band,
  c.contact_date,
  c.support_type,
  c.delivered_by,
  c.delivered_by = 'peer' AS is_peer,
  c.attended,
  c.duration_minutes
FROM dimensioned AS c
JOIN stg_programmes AS p USING (programme_id)
