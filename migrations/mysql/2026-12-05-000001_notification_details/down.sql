ALTER TABLE notification_log DROP COLUMN excerpt;
ALTER TABLE notification_log DROP COLUMN kind;
ALTER TABLE notification_log DROP COLUMN recipient;
