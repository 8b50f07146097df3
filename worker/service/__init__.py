"""Running it unattended: a poll through the pipeline, scheduled jobs, metrics, logs, doctor."""
