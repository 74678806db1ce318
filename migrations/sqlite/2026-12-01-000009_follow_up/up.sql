-- The reminders the follow-up job sent, one per hand-off and kind (`answer`, `outcome`): the key
-- makes the job idempotent, and two replicas running it at once send each reminder once.
CREATE TABLE hand_off_reminders (
    hand_off_id TEXT NOT NULL REFERENCES hand_offs (id),
    kind TEXT NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    PRIMARY KEY (hand_off_id, kind)
);
