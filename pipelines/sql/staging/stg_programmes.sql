-- Grain: one row per programme.
-- Defines each programme with its provider and the provider's area (the `area` breakdown of docs/metrics.md
-- is the provider's area, not the person's area of residence).
SELECT
  pr.programme_id,
  pr.programme_name,
  pr.setting,
  pr.provider_id,
  pv.provider_name,
  pv.provider_type,
  pv.area_code,
  pv.area_name
FROM programmes AS pr
JOIN providers AS pv USING (provider_id)
