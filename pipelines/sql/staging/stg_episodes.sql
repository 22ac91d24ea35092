-- Grain: one row per episode (treatment journey).
-- Defines the outcome group of the discharge reason (docs/contract.md) and the TOP days-used column that
-- measures the episode's primary substance (docs/metrics.md; null for benzodiazepine and other).
SELECT
  e.*,
  {{outcome_group_case}} AS outcome_group,
  {{substance_days_column_case}} AS substance_days_column
FROM episodes AS e
