-- Macros shared by the derived tables (persisted in the warehouse file, so readers can use them too).
-- Defines: rosc_age_band(age) — the age bands of docs/metrics.md ("18-24" … "55-64", "65+"); an age under 18
-- or a missing age gives "unknown"; rosc_peer_support(flag) — the values of the `peer_support` dimension,
-- 'with_peer_support' / 'without_peer_support', from a peer-contact flag of episode_facts.
CREATE OR REPLACE MACRO rosc_age_band(age) AS
  CASE
    WHEN age IS NULL OR age < 18 THEN 'unknown'
    WHEN age < 25 THEN '18-24'
    WHEN age < 30 THEN '25-29'
    WHEN age < 35 THEN '30-34'
    WHEN age < 40 THEN '35-39'
    WHEN age < 45 THEN '40-44'
    WHEN age < 50 THEN '45-49'
    WHEN age < 55 THEN '50-54'
    WHEN age < 65 THEN '55-64'
    ELSE '65+'
  END;

CREATE OR REPLACE MACRO rosc_peer_support(flag) AS
  CASE WHEN flag THEN 'with_peer_support' ELSE 'without_peer_support' END;
