-- Who a notification went to and what it was, so that the log answers "which alert to which
-- chat failed" without the message itself (never a token: the recipient is a chat id).
ALTER TABLE notification_log ADD COLUMN recipient VARCHAR(64);
ALTER TABLE notification_log ADD COLUMN kind VARCHAR(32);
ALTER TABLE notification_log ADD COLUMN excerpt VARCHAR(100);
