DROP INDEX hand_offs_sent;
DROP TRIGGER hand_off_transitions_dates_delete ON hand_off_transitions;
DROP TRIGGER hand_off_transitions_dates_update ON hand_off_transitions;
DROP TRIGGER hand_off_transitions_dates_insert ON hand_off_transitions;
DROP FUNCTION hand_offs_recompute_dates_of_row();
DROP FUNCTION hand_offs_recompute_dates();
DROP FUNCTION hand_offs_recompute_dates_of(text[]);
ALTER TABLE hand_offs DROP COLUMN answered_at;
ALTER TABLE hand_offs DROP COLUMN sent_at;
