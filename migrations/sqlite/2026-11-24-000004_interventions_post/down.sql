DROP INDEX interventions_post_occurred;
ALTER TABLE interventions DROP COLUMN post_id;
