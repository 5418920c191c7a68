"""The interview pages, one module per area: catalogue.py (templates, the question review queue),
sessions.py (start, the system check, the room, history, the mentor's live view), reports.py,
assignments.py (my assignments, staff assessments, accommodations)."""
