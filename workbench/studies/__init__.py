"""Studies and schedules of assessments."""
