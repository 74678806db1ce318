-- The interventions counted by post, month, mode and kind, kept by the database from the
-- interventions themselves, so that the statistics grid (issue 17) reads a period's whole months
-- as a few hundred counts already grouped rather than every intervention of them, each looked up in
-- its table and then sorted into groups. The months a period begins or ends inside are still
-- counted from the interventions (the grid reads both). A function of the interventions alone: the
-- triggers below follow every insert, delete and update of what is counted, whatever wrote it (the
-- API, the seed's bulk insert, retention, an operator), and a recount test proves the counts equal
-- to the rows. An intervention without a post (none is written so) is not kept here.
CREATE TABLE intervention_months (
    post_id TEXT NOT NULL,
    -- `YYYY-MM`, as the grid keys its months.
    month TEXT NOT NULL,
    mode TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- Always at least 1: a count that would fall to 0 is removed instead.
    n BIGINT NOT NULL CHECK (n > 0),
    PRIMARY KEY (post_id, month, mode, kind)
) WITHOUT ROWID;

-- The whole country's months, for the national grid.
CREATE INDEX intervention_months_by_month ON intervention_months (month, mode, kind, n);

INSERT INTO intervention_months (post_id, month, mode, kind, n)
SELECT post_id, substr(occurred_on, 1, 7), mode, kind, COUNT(*) FROM interventions
WHERE post_id IS NOT NULL
GROUP BY post_id, substr(occurred_on, 1, 7), mode, kind;

CREATE TRIGGER intervention_months_insert AFTER INSERT ON interventions
WHEN NEW.post_id IS NOT NULL
BEGIN
    INSERT INTO intervention_months (post_id, month, mode, kind, n)
    VALUES (NEW.post_id, substr(NEW.occurred_on, 1, 7), NEW.mode, NEW.kind, 1)
    ON CONFLICT (post_id, month, mode, kind) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER intervention_months_delete AFTER DELETE ON interventions
WHEN OLD.post_id IS NOT NULL
BEGIN
    DELETE FROM intervention_months
    WHERE post_id = OLD.post_id AND month = substr(OLD.occurred_on, 1, 7)
      AND mode = OLD.mode AND kind = OLD.kind AND n <= 1;
    UPDATE intervention_months SET n = n - 1
    WHERE post_id = OLD.post_id AND month = substr(OLD.occurred_on, 1, 7)
      AND mode = OLD.mode AND kind = OLD.kind;
END;

-- An update is the old row's removal and the new row's addition, each only when it has a post.
CREATE TRIGGER intervention_months_update_old AFTER UPDATE OF post_id, occurred_on, mode, kind ON interventions
WHEN OLD.post_id IS NOT NULL
BEGIN
    DELETE FROM intervention_months
    WHERE post_id = OLD.post_id AND month = substr(OLD.occurred_on, 1, 7)
      AND mode = OLD.mode AND kind = OLD.kind AND n <= 1;
    UPDATE intervention_months SET n = n - 1
    WHERE post_id = OLD.post_id AND month = substr(OLD.occurred_on, 1, 7)
      AND mode = OLD.mode AND kind = OLD.kind;
END;

CREATE TRIGGER intervention_months_update_new AFTER UPDATE OF post_id, occurred_on, mode, kind ON interventions
WHEN NEW.post_id IS NOT NULL
BEGIN
    INSERT INTO intervention_months (post_id, month, mode, kind, n)
    VALUES (NEW.post_id, substr(NEW.occurred_on, 1, 7), NEW.mode, NEW.kind, 1)
    ON CONFLICT (post_id, month, mode, kind) DO UPDATE SET n = n + 1;
END;
