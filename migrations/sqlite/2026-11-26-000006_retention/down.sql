DROP INDEX referrals_situation;
ALTER TABLE referrals DROP COLUMN anonymised_at;
ALTER TABLE situations DROP COLUMN age_at_opening;
ALTER TABLE situations DROP COLUMN anonymised_at;
ALTER TABLE beneficiaries DROP COLUMN anonymised_at;
