DROP TRIGGER intervention_months_update ON interventions;
DROP TRIGGER intervention_months_delete ON interventions;
DROP TRIGGER intervention_months_insert ON interventions;
DROP FUNCTION intervention_months_move_updated();
DROP FUNCTION intervention_months_remove_deleted();
DROP FUNCTION intervention_months_add_inserted();
DROP TABLE intervention_months;
