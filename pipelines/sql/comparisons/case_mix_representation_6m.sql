-- Case-mix records of representation_6m broken down by unit (docs/metrics.md v2, indirect standardisation).
-- Grain: one row per person × unit, as the metric counts them. Reads `units`: the template's units
-- (cohort_date = D, the person's latest successful discharge in the unit in the period) with the
-- breakdown column `{{unit}}`. outcome = the numerator (a referral in (D, D + 182]); the case-mix
-- covariates are those of the episode of the unit ending at D (on a tie, the greatest episode_id).
SELECT
  u.{{unit}} AS unit,
  u.numerator AS outcome,
  u.person_id,
  d.substance_group,
  d.age_band,
  d.sex,
  d.injecting_status,
  d.referral_source,
  d.setting,
  CASE WHEN d.earlier_episode THEN 'yes' ELSE 'no' END AS earlier_episode
FROM units AS u
JOIN (
  SELECT *
  FROM episode_facts
  WHERE outcome_group = 'successful'
    AND discharge_date BETWEEN $period_start AND $period_end
    {{filters}}
  QUALIFY row_number() OVER (PARTITION BY person_id, {{unit}}, discharge_date ORDER BY episode_id DESC) = 1
) AS d
  ON d.person_id = u.person_id AND d.{{unit}} = u.{{unit}} AND d.discharge_date = u.cohort_date
ORDER BY unit, u.person_id
