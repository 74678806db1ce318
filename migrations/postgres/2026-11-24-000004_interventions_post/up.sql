-- Interventions carry their post, so that a scope's interventions are read by index,
-- as its situations are, instead of through every situation of every post.
ALTER TABLE interventions ADD COLUMN post_id relais_id REFERENCES posts (id);
UPDATE interventions i SET post_id = s.post_id FROM situations s WHERE s.id = i.situation_id;
ALTER TABLE interventions ALTER COLUMN post_id SET NOT NULL;
CREATE INDEX interventions_post_occurred ON interventions (post_id, occurred_on);
