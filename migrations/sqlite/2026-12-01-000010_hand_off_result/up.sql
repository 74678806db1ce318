-- What became of the person a partner accepted, coded on completion (`hand_off_results` in
-- /api/v1/reference) beside the free-text outcome: what the statistics grid counts. Hand-offs
-- completed before this column existed keep no result.
ALTER TABLE hand_offs ADD COLUMN result TEXT;
