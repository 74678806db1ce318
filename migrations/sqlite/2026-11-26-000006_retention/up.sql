-- Retention and erasure: records past their retention period (or erased on request) are
-- anonymised in place, not deleted, so that the statistics of past years do not change.
-- `anonymised_at` marks them; `age_at_opening` keeps the one thing the grid needed from the
-- birth date that anonymisation removes.
ALTER TABLE beneficiaries ADD COLUMN anonymised_at TIMESTAMP;
ALTER TABLE situations ADD COLUMN anonymised_at TIMESTAMP;
ALTER TABLE situations ADD COLUMN age_at_opening INTEGER;
ALTER TABLE referrals ADD COLUMN anonymised_at TIMESTAMP;
-- The last-contact check reaches a person's referrals through their situations.
CREATE INDEX referrals_situation ON referrals (situation_id);
