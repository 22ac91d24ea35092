-- Grain: one row per episode (treatment journey); the fact table of every episode- and person-based metric.
-- Defines the breakdown dimensions under their docs/metrics.md names (programme, provider, area = provider's
-- area, setting, substance_group, sex, age_band from year(start_date or referral_date) − birth_year),
-- wait_days (start − referral), days_in_treatment (discharge − start), discharged_before_day_84 (never
-- null: false for open or never-started episodes), and next_referral_date / days_to_next_referral
-- (the person's next referral, any programme, after this episode's discharge), and the peer-support flags
-- (from int_episode_first_peer_contact; a person's attended peer contact in any programme counts):
-- peer_contact_first_28d = one on days 0–27 of the episode (start_date ≤ contact_date < start_date + 28,
-- and not after its discharge) — the landmark exposure of the `peer_support` dimension for
-- episode cohorts; peer_contact_in_episode = one between start_date and discharge_date (inclusive; open
-- episodes: any on or after start) — the exposure of `peer_support` for representation_6m, fixed at D.
-- Both are false for never-started episodes.
-- peer_contacts_first_28d: how many attended peer contacts fall on those days 0–27 (0 when none; the dose
-- of the peer-support landmark comparison, pipelines.metrics.comparisons).
-- new_presentation: no episode of the person (any programme) was open on the day before this one
-- started (int_episode_new_presentation); false for never-started episodes.
-- earlier_episode: the person has an episode referred before this one's referral_date (any programme; a
-- case-mix covariate of docs/metrics.md v2). community_start_after_release: for a discharged prison episode,
-- the earliest start of a non-prison episode of the person on or after its discharge (int_episode_release_engagement).
-- record_key / person_key: the episode's and the person's record keys (cell-key perturbation).
-- Sorted by start_date then programme so date-range scans skip row groups.
SELECT
  e.episode_id,
  e.person_id,
  e.record_key,
  pe.record_key AS person_key,
  e.programme_id AS programme,
  p.provider_id AS provider,
  p.area_code AS area,
  p.setting,
  e.substance_group,
  pe.sex,
  rosc_age_band(year(coalesce(e.start_date, e.referral_date)) - pe.birth_year) AS age_band,
  p.programme_name,
  p.provider_name,
  p.area_name,
  pe.birth_year,
  e.referral_date,
  e.referral_source,
  e.triage_date,
  e.start_date,
  e.discharge_date,
  e.discharge_reason,
  e.outcome_group,
  e.primary_substance,
  e.substance_days_column,
  e.injecting_status,
  e.ost,
  e.start_date - e.referral_date AS wait_days,
  e.discharge_date - e.start_date AS days_in_treatment,
  coalesce(e.discharge_date < e.start_date + 84, false) AS discharged_before_day_84,
  n.next_referral_date,
  n.next_referral_date - e.discharge_date AS days_to_next_referral,
  coalesce(
    f.first_peer_contact_date < e.start_date + 28
    AND (e.discharge_date IS NULL OR f.first_peer_contact_date <= e.discharge_date),
    false
  ) AS peer_contact_first_28d,
  f.first_peer_contact_date IS NOT NULL
    AND (e.discharge_date IS NULL OR f.first_peer_contact_date <= e.discharge_date) AS peer_contact_in_episode,
  coalesce(f.peer_contacts_first_28d, 0) AS peer_contacts_first_28d,
  coalesce(np.new_presentation, false) AS new_presentation,
  e.referral_date > min(e.referral_date) OVER (PARTITION BY e.person_id) AS earlier_episode,
  r.community_start_after_release
FROM stg_episodes AS e
JOIN stg_programmes AS p USING (programme_id)
JOIN people AS pe USING (person_id)
LEFT JOIN int_episode_next_referral AS n USING (episode_id)
LEFT JOIN int_episode_first_peer_contact AS f USING (episode_id)
LEFT JOIN int_episode_new_presentation AS np USING (episode_id)
LEFT JOIN int_episode_release_engagement AS r USING (episode_id)
ORDER BY e.start_date NULLS LAST, programme, e.episode_id
