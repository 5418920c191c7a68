"""Timed interviews (domains/interviews, docs/interviews.md)."""

from project.settings.environment import env  # the domain's tunables read through it

# ---- content (helper A: templates, the question bank, AI drafts)
# Drafts one request may ask for (the "Draft questions" form and draft_questions()).
INTERVIEWS_DRAFT_MAX = env.int("INTERVIEWS_DRAFT_MAX", default=10)
# Longest pasted job description, in characters.
INTERVIEWS_JOB_DESCRIPTION_MAX = env.int("INTERVIEWS_JOB_DESCRIPTION_MAX", default=5000)
# Temperature for drafting with a model (OpenAI protocol); unset: the "interview" feature's
# configuration on /manage/, then AI_TEMPERATURE. Evaluation runs at 0 regardless.
_draft_temperature = env.str("INTERVIEWS_DRAFT_TEMPERATURE", default="")
INTERVIEWS_DRAFT_TEMPERATURE: float | None = float(_draft_temperature) if _draft_temperature else None
# Organisation templates one staff member may create per hour (0 = unlimited).
INTERVIEWS_TEMPLATE_CREATE_PER_HOUR = env.int("INTERVIEWS_TEMPLATE_CREATE_PER_HOUR", default=30)

# ---- sessions and the clock (helper B)
# Longest written answer, in characters (an autosave beyond it is refused, `too_long`).
INTERVIEWS_ANSWER_MAX_CHARS = env.int("INTERVIEWS_ANSWER_MAX_CHARS", default=20000)
# Most extra time one grant may add, in seconds (mentors, the assignment's reviewer).
INTERVIEWS_EXTRA_TIME_MAX_SECONDS = env.int("INTERVIEWS_EXTRA_TIME_MAX_SECONDS", default=7200)
# Interval of the beat sweep closing sessions whose deadline passed (they close within 2x this).
INTERVIEWS_EXPIRE_SWEEP_SECONDS = env.int("INTERVIEWS_EXPIRE_SWEEP_SECONDS", default=30)
# Sessions one person may start per hour (a reused in-progress session does not count; 0 = unlimited).
INTERVIEWS_SESSION_STARTS_PER_HOUR = env.int("INTERVIEWS_SESSION_STARTS_PER_HOUR", default=30)

# ---- evaluation and reports (helper C: domains/interviews/evaluation.py)
# Largest reply the evaluator asks a model for, in tokens (one JSON verdict).
INTERVIEWS_EVALUATION_MAX_TOKENS = env.int("INTERVIEWS_EVALUATION_MAX_TOKENS", default=600)
# The offline evaluator gives 100 when an answer covers this share of the rubric's key terms (0-1).
INTERVIEWS_OFFLINE_FULL_COVERAGE = env.float("INTERVIEWS_OFFLINE_FULL_COVERAGE", default=0.5)
# Readiness: "ready" needs this overall score and every assessed dimension at the floor below;
# "almost ready" needs the second mark; below it "not ready".
INTERVIEWS_READY_SCORE = env.int("INTERVIEWS_READY_SCORE", default=75)
INTERVIEWS_ALMOST_READY_SCORE = env.int("INTERVIEWS_ALMOST_READY_SCORE", default=55)
INTERVIEWS_DIMENSION_FLOOR = env.int("INTERVIEWS_DIMENSION_FLOOR", default=60)
# Study topics: the topics whose average score is below this, weakest first, at most the max.
INTERVIEWS_STUDY_TOPIC_BELOW = env.int("INTERVIEWS_STUDY_TOPIC_BELOW", default=80)
INTERVIEWS_STUDY_TOPICS_MAX = env.int("INTERVIEWS_STUDY_TOPICS_MAX", default=5)
# A report shows a percentile once the organisation has this many earlier graded sessions of the template.
INTERVIEWS_PERCENTILE_MIN = env.int("INTERVIEWS_PERCENTILE_MIN", default=10)
# Score overrides one watcher may make per hour (0 = unlimited).
INTERVIEWS_OVERRIDES_PER_HOUR = env.int("INTERVIEWS_OVERRIDES_PER_HOUR", default=120)
# Practice areas: a topic's current score at or above STEP_UP recommends the next harder difficulty,
# below STEP_DOWN the next easier one; in between, the same.
INTERVIEWS_PRACTICE_STEP_UP = env.int("INTERVIEWS_PRACTICE_STEP_UP", default=80)
INTERVIEWS_PRACTICE_STEP_DOWN = env.int("INTERVIEWS_PRACTICE_STEP_DOWN", default=50)

# ---- assessments and accommodations (helper D: domains/interviews/assignments.py)
# Assessments one staff member may create per hour (each may send an invitation; 0 = unlimited).
INTERVIEWS_ASSIGNMENTS_PER_HOUR = env.int("INTERVIEWS_ASSIGNMENTS_PER_HOUR", default=60)
# Longest assessment window, in days, and how far ahead a window may close.
INTERVIEWS_ASSIGNMENT_WINDOW_MAX_DAYS = env.int("INTERVIEWS_ASSIGNMENT_WINDOW_MAX_DAYS", default=90)
INTERVIEWS_ASSIGNMENT_AHEAD_MAX_DAYS = env.int("INTERVIEWS_ASSIGNMENT_AHEAD_MAX_DAYS", default=365)
# Follow-up questions one candidate may ask the AI interviewer per hour (domains/interviews/followups.py).
INTERVIEWS_FOLLOWUPS_PER_HOUR = env.int("INTERVIEWS_FOLLOWUPS_PER_HOUR", default=20)
