-- Anonymisation keeps each situation's age at opening (`age_at_opening`, in completed years,
-- the birth taken to be on 1 July when only its year was known) and now also whether that age
-- came from a birth year only, so that a grid declaring another convention for such ages
-- (`birth_year_age = "year_difference"`) still counts an anonymised person as it would have
-- counted them before. NULL for situations anonymised before this migration.
ALTER TABLE situations ADD COLUMN age_from_birth_year boolean;
