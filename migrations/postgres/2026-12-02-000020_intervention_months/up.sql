-- The interventions counted by post, month, mode and kind, kept by the database from the
-- interventions themselves, so that the statistics grid (issue 17) reads a period's whole months
-- as a few hundred counts already grouped rather than every intervention of them. The months a
-- period begins or ends inside are still counted from the interventions (the grid reads both). A
-- function of the interventions alone: the triggers below follow every insert, delete and update
-- of what is counted, whatever wrote it (the API, the seed's bulk insert, retention, an operator),
-- and a recount test proves the counts equal to the rows. Inserts and deletes fire statement
-- triggers with transition tables, so a bulk insert adds each group once; each statement touches
-- its groups in key order, so that two of them wait for each other rather than deadlock.
CREATE TABLE intervention_months (
    post_id relais_id NOT NULL,
    -- `YYYY-MM`, as the grid keys its months.
    month text NOT NULL CHECK (month ~ '^[0-9]{4}-[0-9]{2}$'),
    mode relais_code NOT NULL,
    kind relais_code NOT NULL,
    -- Always at least 1: a count that would fall to 0 is removed instead.
    n bigint NOT NULL CHECK (n > 0),
    PRIMARY KEY (post_id, month, mode, kind)
);

-- The whole country's months, for the national grid.
CREATE INDEX intervention_months_by_month ON intervention_months (month) INCLUDE (mode, kind, n);

INSERT INTO intervention_months (post_id, month, mode, kind, n)
SELECT post_id, to_char(occurred_on, 'YYYY-MM'), mode, kind, COUNT(*) FROM interventions
GROUP BY post_id, to_char(occurred_on, 'YYYY-MM'), mode, kind;

CREATE FUNCTION intervention_months_add_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO intervention_months AS m (post_id, month, mode, kind, n)
    SELECT post_id, to_char(occurred_on, 'YYYY-MM'), mode, kind, COUNT(*) FROM inserted_interventions
    GROUP BY post_id, to_char(occurred_on, 'YYYY-MM'), mode, kind
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (post_id, month, mode, kind) DO UPDATE SET n = m.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE FUNCTION intervention_months_remove_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The counts reaching 0 are removed rather than lowered (`n > 0`).
    DELETE FROM intervention_months m
    USING (SELECT post_id, to_char(occurred_on, 'YYYY-MM') AS month, mode, kind, COUNT(*) AS n
           FROM deleted_interventions GROUP BY 1, 2, 3, 4) r
    WHERE m.post_id = r.post_id AND m.month = r.month AND m.mode = r.mode AND m.kind = r.kind
      AND m.n <= r.n;
    UPDATE intervention_months m SET n = m.n - r.n
    FROM (SELECT post_id, to_char(occurred_on, 'YYYY-MM') AS month, mode, kind, COUNT(*) AS n
          FROM deleted_interventions GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4) r
    WHERE m.post_id = r.post_id AND m.month = r.month AND m.mode = r.mode AND m.kind = r.kind;
    RETURN NULL;
END
$$;

-- An update of what is counted, row by row (a row trigger can name its columns where a statement
-- trigger with transition tables cannot): the old group loses one, the new one gains one.
CREATE FUNCTION intervention_months_move_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_month text := to_char(OLD.occurred_on, 'YYYY-MM');
    new_month text := to_char(NEW.occurred_on, 'YYYY-MM');
BEGIN
    IF (OLD.post_id, old_month, OLD.mode::text, OLD.kind::text)
       IS NOT DISTINCT FROM (NEW.post_id, new_month, NEW.mode::text, NEW.kind::text) THEN
        RETURN NULL;
    END IF;
    DELETE FROM intervention_months
    WHERE post_id = OLD.post_id AND month = old_month AND mode = OLD.mode AND kind = OLD.kind AND n <= 1;
    UPDATE intervention_months SET n = n - 1
    WHERE post_id = OLD.post_id AND month = old_month AND mode = OLD.mode AND kind = OLD.kind;
    INSERT INTO intervention_months AS m (post_id, month, mode, kind, n)
    VALUES (NEW.post_id, new_month, NEW.mode, NEW.kind, 1)
    ON CONFLICT (post_id, month, mode, kind) DO UPDATE SET n = m.n + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER intervention_months_insert AFTER INSERT ON interventions
    REFERENCING NEW TABLE AS inserted_interventions
    FOR EACH STATEMENT EXECUTE FUNCTION intervention_months_add_inserted();
CREATE TRIGGER intervention_months_delete AFTER DELETE ON interventions
    REFERENCING OLD TABLE AS deleted_interventions
    FOR EACH STATEMENT EXECUTE FUNCTION intervention_months_remove_deleted();
CREATE TRIGGER intervention_months_update AFTER UPDATE OF post_id, occurred_on, mode, kind ON interventions
    FOR EACH ROW EXECUTE FUNCTION intervention_months_move_updated();
