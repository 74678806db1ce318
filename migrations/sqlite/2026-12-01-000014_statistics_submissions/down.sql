DROP TABLE statistics_submissions;
