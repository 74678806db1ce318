DROP TABLE hand_off_reminders;
