DROP TABLE statistics_submissions;
DROP FUNCTION statistics_submissions_frozen();
