-- The national and departmental grids select by period first.
CREATE INDEX situations_opened ON situations (opened_on);
CREATE INDEX interventions_occurred ON interventions (occurred_on);
