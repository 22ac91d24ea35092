-- Fragment. Grain: one row per person × static breakdown dimensions with a successful discharge in the period.
-- Defines D = the person's latest successful discharge_date in [from, to], and the person's next
-- referral (any programme, any episode) strictly after D. On a tie the next referral is the same, as it
-- depends only on the person and D. (arg_max_null: plain arg_max would skip a null next referral.)
-- peer_contact_in_episode: the person had an attended peer contact during the episode ending at D (on a
-- tie, during any episode ending at D) — an exposure fixed by D, before the outcome window opens.
SELECT
  person_id{{dims}},
  any_value(person_key) AS person_key,
  max(discharge_date) AS discharge_date,
  arg_max_null(next_referral_date, discharge_date) AS next_referral_date,
  arg_max_null(peer_contact_in_episode, (discharge_date, peer_contact_in_episode)) AS peer_contact_in_episode
FROM episode_facts{{periods}}
WHERE outcome_group = 'successful'
  AND discharge_date BETWEEN $period_start AND $period_end
  {{filters}}
GROUP BY person_id{{dims}}
