ALTER TABLE situations DROP COLUMN age_from_birth_year;
