"""Business-day timetables and the calendars they read."""
