DROP TABLE task_schedule_slots;
DROP TABLE task_attempts;
DROP TABLE tasks;
