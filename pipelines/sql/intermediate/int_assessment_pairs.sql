-- Grain: one row per episode that has a `start` assessment and a later `review` or `exit` assessment.
-- Defines the assessment pair of docs/metrics.md: the episode's first start assessment (earliest date, then
-- assessment_id) and its latest review/exit assessment dated strictly after it (latest date; on a tie
-- exit before review, then the larger assessment_id). Carries, at start and at latest, the days used of
-- the episode's primary substance (its mapped days column) and the four scored outcomes.
WITH episode_assessments AS (
  SELECT
    a.episode_id,
    a.assessment_id,
    a.assessment_date,
    a.stage,
    {{substance_days_value_case}} AS substance_days,
    a.quality_of_life,
    a.psych_health,
    a.phys_health,
    a.recovery_capital
  FROM assessments AS a
  JOIN stg_episodes AS e USING (episode_id)
  WHERE a.stage IN ('start', 'review', 'exit')
),

first_start AS (
  SELECT *
  FROM episode_assessments
  WHERE stage = 'start'
  QUALIFY row_number() OVER (PARTITION BY episode_id ORDER BY assessment_date, assessment_id) = 1
),

latest_review AS (
  SELECT f.*
  FROM episode_assessments AS f
  JOIN first_start AS s USING (episode_id)
  WHERE f.stage IN ('review', 'exit')
    AND f.assessment_date > s.assessment_date
  QUALIFY row_number() OVER (
    PARTITION BY f.episode_id
    ORDER BY f.assessment_date DESC, (f.stage = 'exit') DESC, f.assessment_id DESC
  ) = 1
)

SELECT
  s.episode_id,
  s.assessment_id AS start_assessment_id,
  s.assessment_date AS start_assessment_date,
  l.assessment_id AS latest_assessment_id,
  l.assessment_date AS latest_assessment_date,
  l.stage AS latest_stage,
  s.substance_days AS substance_days_start,
  l.substance_days AS substance_days_latest,
  s.quality_of_life AS quality_of_life_start,
  l.quality_of_life AS quality_of_life_latest,
  s.psych_health AS psych_health_start,
  l.psych_health AS psych_health_latest,
  s.phys_health AS phys_health_start,
  l.phys_health AS phys_health_latest,
  s.recovery_capital AS recovery_capital_start,
  l.recovery_capital AS recovery_capital_latest
FROM first_start AS s
JOIN latest_review AS l USING (episode_id)
