DROP INDEX interventions_occurred;
DROP INDEX situations_opened;
