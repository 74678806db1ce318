DROP TABLE imported_submissions;
DROP TABLE statistics_instances;
DROP TABLE statistics_submissions;
DROP FUNCTION statistics_submissions_frozen();
