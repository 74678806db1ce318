-- Interventions carry their post, so that a scope's interventions are read by index,
-- as its situations are, instead of through every situation of every post.
ALTER TABLE interventions ADD COLUMN post_id TEXT REFERENCES posts (id);
UPDATE interventions SET post_id = (SELECT s.post_id FROM situations s WHERE s.id = interventions.situation_id);
CREATE INDEX interventions_post_occurred ON interventions (post_id, occurred_on);
