DROP TABLE requisitions;
DROP TABLE audit_events;
