-- The reminders the follow-up job sent, one per hand-off and kind (`answer`, `outcome`): the key
-- makes the job idempotent, and two replicas running it at once send each reminder once.
CREATE TABLE hand_off_reminders (
    hand_off_id TEXT NOT NULL REFERENCES hand_offs (id),
    kind TEXT NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    PRIMARY KEY (hand_off_id, kind)
);

-- CASF L226-2-2: for an information préoccupante, whether the holders of parental authority were
-- informed beforehand (the day) or why not (a free text, anonymised with the person).
ALTER TABLE hand_offs ADD COLUMN parental_authority_informed_on DATE;
ALTER TABLE hand_offs ADD COLUMN parental_authority_not_informed_because TEXT;
