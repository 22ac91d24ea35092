-- Peer-support landmark cohort of representation_6m (docs/metrics.md v2). Grain: one row per person.
-- Reads `units`: the units of the representation_6m template (people whose latest successful discharge
-- D in the period has D + 182 ≤ as_of; cohort_date = D; numerator = a referral in (D, D + 182]).
-- Keeps the people not re-presented by D + 28 (no referral in (D, D + 28]), so the outcome, the
-- numerator, is a referral in (D + 28, D + 182]. exposed: an attended peer contact in (D, D + 28] (any
-- programme, or none); peer_contacts: how many (the dose); peer_during_episode: one during the episode
-- that ended at D (episode_facts.peer_contact_in_episode; on a tie, during any episode ending at D), for
-- the timing table. Case-mix covariates are those of the episode ending at D (on a tie, the one with the
-- greatest episode_id) among the episodes the filters allow. rkey: the person's record key.
SELECT
  u.person_id AS record_id,
  u.person_id,
  u.rkey,
  u.numerator AS outcome,
  (coalesce(a.peer_contacts, 0) > 0)::INTEGER AS exposed,
  coalesce(a.peer_contacts, 0)::INTEGER AS peer_contacts,
  d.peer_during_episode::INTEGER AS peer_during_episode,
  d.substance_group,
  d.age_band,
  d.sex,
  d.injecting_status,
  d.referral_source,
  d.setting,
  CASE WHEN d.earlier_episode THEN 'yes' ELSE 'no' END AS earlier_episode
FROM units AS u
JOIN (
  SELECT
    person_id,
    discharge_date,
    next_referral_date,
    bool_or(peer_contact_in_episode) OVER (PARTITION BY person_id, discharge_date) AS peer_during_episode,
    substance_group, age_band, sex, injecting_status, referral_source, setting, earlier_episode
  FROM episode_facts
  WHERE outcome_group = 'successful'
    AND discharge_date BETWEEN $period_start AND $period_end
    {{filters}}
  QUALIFY row_number() OVER (PARTITION BY person_id, discharge_date ORDER BY episode_id DESC) = 1
) AS d
  ON d.person_id = u.person_id AND d.discharge_date = u.cohort_date
LEFT JOIN (
  SELECT l.person_id, count(*)::INTEGER AS peer_contacts
  FROM units AS l
  JOIN contacts AS c
    ON c.person_id = l.person_id
    AND c.contact_date > l.cohort_date
    AND c.contact_date <= l.cohort_date + 28
  WHERE c.attended AND c.delivered_by = 'peer'
  GROUP BY l.person_id
) AS a
  ON a.person_id = u.person_id
WHERE d.next_referral_date IS NULL OR d.next_referral_date > u.cohort_date + 28
ORDER BY record_id
