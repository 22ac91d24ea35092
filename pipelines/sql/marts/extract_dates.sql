-- Grain: one row for the whole warehouse.
-- Defines as_of: the latest date anywhere in the warehouse (the default extract date of docs/metrics.md), and
-- first_date: the earliest, for date pickers.
WITH dates AS (
  SELECT min(least(referral_date, triage_date, start_date, discharge_date)) AS first_date,
         max(greatest(referral_date, triage_date, start_date, discharge_date)) AS last_date
  FROM episodes
  UNION ALL
  SELECT min(contact_date), max(contact_date) FROM contacts
  UNION ALL
  SELECT min(assessment_date), max(assessment_date) FROM assessments
  UNION ALL
  SELECT min(test_date), max(test_date) FROM drug_tests
)
SELECT min(first_date) AS first_date, max(last_date) AS as_of
FROM dates
