# ruff: noqa: E501 - catalogue text: long descriptor strings read better unbroken
"""The public interview catalogue: templates every organisation's members can see (organisation NULL,
read-only), with their question banks. Data only; `content.seed_public_templates()` writes it,
idempotently, by each template's slug and each question's position.

Every question has a prompt, a reference answer, rubric bands (top band first, covering 0-100 without
gaps) and topic tags; multiple choice also has choices and a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def bands(strong: str, good: str, developing: str, weak: str) -> list[dict[str, Any]]:
    """The four standard bands, from the top down, with this question's descriptors."""
    return [
        {"band": "strong", "min": 80, "max": 100, "descriptor": strong},
        {"band": "good", "min": 60, "max": 79, "descriptor": good},
        {"band": "developing", "min": 40, "max": 59, "descriptor": developing},
        {"band": "weak", "min": 0, "max": 39, "descriptor": weak},
    ]


def mc_bands() -> list[dict[str, Any]]:
    """Multiple choice is scored exactly: all of the key, or nothing."""
    return [
        {"band": "correct", "min": 100, "max": 100, "descriptor": "Chose exactly the keyed option(s)."},
        {"band": "incorrect", "min": 0, "max": 99, "descriptor": "Chose another option, or not all of the key."},
    ]


@dataclass(frozen=True)
class CatalogueQuestion:
    question_type: str
    prompt: str
    reference_answer: str
    rubric_bands: list[dict[str, Any]]
    topics: tuple[str, ...]
    choices: tuple[tuple[str, str], ...] = ()
    answer_key: tuple[str, ...] = ()


@dataclass(frozen=True)
class CatalogueTemplate:
    slug: str
    title: str
    role: str
    interview_type: str
    difficulty: str
    level: str
    duration_minutes: int
    rubric: str
    questions: tuple[CatalogueQuestion, ...]
    question_seconds: int | None = None
    question_count: int = 0  # 0: all of its questions


def mc(
    prompt: str, choices: list[tuple[str, str]], key: list[str], reference: str, topics: list[str]
) -> CatalogueQuestion:
    return CatalogueQuestion(
        question_type="multiple_choice",
        prompt=prompt,
        reference_answer=reference,
        rubric_bands=mc_bands(),
        topics=tuple(topics),
        choices=tuple(choices),
        answer_key=tuple(key),
    )


def written(
    kind: str, prompt: str, reference: str, grading: tuple[str, str, str, str], topics: list[str]
) -> CatalogueQuestion:
    return CatalogueQuestion(
        question_type=kind,
        prompt=prompt,
        reference_answer=reference,
        rubric_bands=bands(*grading),
        topics=tuple(topics),
    )


PYTHON_BACKEND = CatalogueTemplate(
    slug="python-backend-junior",
    title="Python backend basics",
    role="Backend engineer",
    interview_type="technical",
    difficulty="easy",
    level="junior",
    duration_minutes=30,
    question_seconds=None,
    rubric="Correct Python and HTTP fundamentals, explained plainly, with a small example where it helps.",
    questions=(
        mc(
            "What does `len({'a': 1, 'b': 2, 'a': 3})` return?",
            [("a", "1"), ("b", "2"), ("c", "3"), ("d", "It raises a KeyError")],
            ["b"],
            "2: a dict literal keeps one entry per key, the last value wins ({'a': 3, 'b': 2}).",
            ["python", "data-structures"],
        ),
        mc(
            "Which HTTP status code says that the request needs authentication?",
            [("a", "400 Bad Request"), ("b", "401 Unauthorized"), ("c", "403 Forbidden"), ("d", "404 Not Found")],
            ["b"],
            "401: no (or invalid) credentials; 403 means authenticated but not allowed.",
            ["http", "apis"],
        ),
        mc(
            "Which of these are immutable in Python? Choose every one that is.",
            [("a", "tuple"), ("b", "list"), ("c", "frozenset"), ("d", "dict")],
            ["a", "c"],
            "tuple and frozenset are immutable; list and dict can be changed in place.",
            ["python", "data-structures"],
        ),
        written(
            "open",
            "Explain the difference between a process and a thread, and when you would use each in a Python web service.",
            "Processes have separate memory and give real CPU parallelism in CPython (the GIL); threads share memory, "
            "are cheaper, and suit I/O-bound work such as waiting on a database or an HTTP call. A web service runs "
            "several worker processes for CPU and isolation, and threads or async inside them for I/O.",
            (
                "Separates memory and parallelism correctly, mentions the GIL, and matches each to CPU- or I/O-bound work with an example.",
                "Correct distinction and one sensible use of each, little on the GIL.",
                "Partly correct: confuses shared memory or parallelism, no clear use.",
                "Wrong or missing distinction.",
            ),
            ["concurrency", "python"],
        ),
        written(
            "open",
            "What is an index in a relational database, and what does it cost?",
            "An index is a separate structure (usually a B-tree) that finds rows by a column's value without scanning "
            "the table. It speeds reads that filter or sort by that column and costs disk space plus slower writes, "
            "because every insert, update and delete maintains it.",
            (
                "Explains the lookup structure, the read benefit and both costs (space, write time), with a query example.",
                "Explains the benefit and one cost.",
                "Knows it makes queries faster but not how or at what cost.",
                "Wrong or missing.",
            ),
            ["databases", "performance"],
        ),
        written(
            "open",
            "A list endpoint became slow as the table grew. How would you find out why, and what might you change?",
            "Measure first: time the request, log the SQL and count queries (an N+1 shows as one query per row), "
            "run EXPLAIN ANALYZE on the slow query. Fixes: select_related/prefetch, an index on the filter column, "
            "pagination with a bounded page size, fetching only needed columns, caching if reads dominate.",
            (
                "Measures before changing, names N+1 and EXPLAIN, proposes two or more fitting fixes including pagination or an index.",
                "A sensible diagnosis and one fix.",
                "Guesses a fix without measuring.",
                "No workable approach.",
            ),
            ["performance", "databases", "apis"],
        ),
    ),
)

BEHAVIOURAL = CatalogueTemplate(
    slug="behavioural-essentials",
    title="Behavioural essentials",
    role="Software engineer",
    interview_type="behavioural",
    difficulty="medium",
    level="mid",
    duration_minutes=40,
    question_seconds=480,
    rubric="STAR structure (situation, task, action, result), the candidate's own actions, a measurable result and reflection.",
    questions=(
        written(
            "behavioural",
            "Tell me about a time you disagreed with a teammate about a technical decision. What happened?",
            "Situation and task in a sentence or two; the disagreement stated fairly; actions: listened, gathered "
            "evidence (a spike, data, a doc), proposed a way to decide; result: the decision and its effect; what they "
            "learned about disagreeing well.",
            (
                "Full STAR, describes the other view fairly, own actions, a concrete result and a lesson.",
                "Clear story with own actions; result or reflection thin.",
                "Vague story, mostly 'we', little result.",
                "No real example, or blames others.",
            ),
            ["collaboration", "communication", "star-method"],
        ),
        written(
            "behavioural",
            "Describe a mistake you made at work that affected others. How did you handle it?",
            "Owns the mistake plainly, acts fast to limit the impact, tells the people affected, fixes the cause "
            "(a test, a check, a process), and says what changed afterwards.",
            (
                "Owns it, limits impact, communicates, fixes the root cause and shows what changed.",
                "Owns it and fixes it; little on the root cause.",
                "Minimises the mistake or the story lacks actions.",
                "Deflects blame or gives no example.",
            ),
            ["ownership", "communication", "star-method"],
        ),
        written(
            "behavioural",
            "Tell me about a time you had to deliver with an unclear or changing scope.",
            "Clarifies the goal with stakeholders, splits the work, ships a small useful slice first, makes trade-offs "
            "explicit and keeps people informed; a result with a number or a date.",
            (
                "Clarifies, slices, communicates trade-offs, and gives a measurable result.",
                "Reasonable approach, result vague.",
                "Describes the chaos more than what they did.",
                "No example.",
            ),
            ["prioritisation", "communication", "star-method"],
        ),
        written(
            "behavioural",
            "Give an example of feedback you received that changed how you work.",
            "Names the feedback and who gave it, the first reaction honestly, what they changed, and evidence the "
            "change stuck.",
            (
                "Specific feedback, a concrete change and evidence it lasted.",
                "Specific feedback and a change, little evidence.",
                "Generic feedback or no change.",
                "No example, or dismisses feedback.",
            ),
            ["growth", "self-awareness", "star-method"],
        ),
        written(
            "behavioural",
            "Describe a time you helped someone else on your team succeed.",
            "The colleague's challenge, what they did (pairing, reviews, documentation, unblocking), how they balanced "
            "their own work, and the colleague's result.",
            (
                "Concrete help, the colleague's outcome, and balance with own work.",
                "Concrete help, outcome vague.",
                "Generic helpfulness without a story.",
                "No example.",
            ),
            ["collaboration", "mentoring", "star-method"],
        ),
    ),
)

SYSTEM_DESIGN = CatalogueTemplate(
    slug="system-design-senior",
    title="System design: scale and trade-offs",
    role="Senior backend engineer",
    interview_type="system_design",
    difficulty="hard",
    level="senior",
    duration_minutes=60,
    question_seconds=None,
    question_count=3,
    rubric="Requirements first, a coherent design, capacity estimates, failure modes and explicit trade-offs.",
    questions=(
        written(
            "system_design",
            "Design a URL shortener that serves 10,000 redirects per second.",
            "Requirements (create, redirect, expiry, analytics); id generation (base62 of a counter or random with a "
            "uniqueness check); storage keyed by id; a cache in front for hot links; redirects as 301/302 by policy; "
            "estimates of storage per year; replication and what happens when the cache or primary fails; abuse limits.",
            (
                "Requirements, id scheme, storage, cache, estimates, failure handling and trade-offs all covered.",
                "A working design with caching and storage; estimates or failures thin.",
                "Components listed without how they fit or scale.",
                "No coherent design.",
            ),
            ["scalability", "caching", "databases"],
        ),
        written(
            "system_design",
            "Design the backend of a chat app where messages must never be lost and arrive in order per room.",
            "Durable write before acknowledging; a per-room sequence number allocated atomically; clients resume "
            "from their last sequence number after reconnecting; fan-out through a pub/sub layer; idempotent sends by "
            "client id; retention and replay; horizontal scaling of socket servers.",
            (
                "Durability, per-room ordering by sequence, resume, idempotency and scaling explained with trade-offs.",
                "Ordering and durability handled; resume or idempotency missing.",
                "Uses websockets and a database but not how order or loss are handled.",
                "No coherent design.",
            ),
            ["realtime", "consistency", "scalability"],
        ),
        written(
            "system_design",
            "Design a rate limiter for a public API, shared by many API servers.",
            "Goal per key (user, token, IP); a token bucket or sliding window in a shared store such as Redis with "
            "atomic updates (a script); the 429 response with Retry-After; what happens if the store is down "
            "(fail open or closed, and why); limits per plan; monitoring.",
            (
                "Algorithm, shared atomic state, response semantics, failure policy and trade-offs.",
                "Algorithm and shared state, little on failure.",
                "An algorithm without distribution across servers.",
                "No workable design.",
            ),
            ["scalability", "apis", "reliability"],
        ),
        written(
            "system_design",
            "How would you run a database schema migration on a busy table without downtime?",
            "Expand and contract: add nullable columns or new tables first, deploy code that writes both, backfill in "
            "batches, switch reads, then remove the old column in a later release; avoid long locks (create indexes "
            "concurrently), and keep each step reversible.",
            (
                "Expand/contract with batched backfill, lock awareness and rollback at each step.",
                "Phased plan, locks or rollback not discussed.",
                "Knows downtime is a risk but no plan.",
                "Would just run the migration.",
            ),
            ["databases", "reliability", "deployment"],
        ),
        written(
            "system_design",
            "Design a job queue for sending emails that copes with provider outages.",
            "Durable queue; workers pull; retries with backoff and a cap; idempotency per email so a retry never "
            "double-sends; a dead-letter list for inspection; a circuit breaker when the provider is down; metrics "
            "on queue depth and age.",
            (
                "Durability, retry with backoff, idempotency, dead letters and monitoring.",
                "Retries and durability; idempotency missing.",
                "A queue without failure handling.",
                "No workable design.",
            ),
            ["reliability", "queues", "scalability"],
        ),
    ),
)

FRONTEND_MIXED = CatalogueTemplate(
    slug="frontend-mixed-mid",
    title="Frontend engineer: mixed round",
    role="Frontend engineer",
    interview_type="mixed",
    difficulty="medium",
    level="mid",
    duration_minutes=45,
    question_seconds=600,
    rubric="Accurate web platform knowledge, accessibility awareness and clear reasoning about users.",
    questions=(
        mc(
            "Which HTML element gives a page's main content a landmark for screen readers?",
            [("a", '<div id="main">'), ("b", "<main>"), ("c", "<section>"), ("d", "<article>")],
            ["b"],
            "<main> is the main landmark; a div with an id is not announced.",
            ["accessibility", "html"],
        ),
        mc(
            "What does `event.preventDefault()` do on a form's submit event?",
            [
                ("a", "Stops the event from bubbling to parent elements"),
                ("b", "Stops the browser's default submission"),
                ("c", "Removes every other listener"),
                ("d", "Reloads the page"),
            ],
            ["b"],
            "It cancels the default action (the submission); stopPropagation stops bubbling.",
            ["javascript", "dom"],
        ),
        written(
            "open",
            "A page feels slow on a cheap phone. How do you investigate and what would you look at first?",
            "Reproduce with throttling, record a performance profile, check Largest Contentful Paint and long tasks; "
            "look at JavaScript size and main-thread work, images, render-blocking CSS, and network waterfall; fix the "
            "largest cost first and measure again.",
            (
                "Measures with real metrics, names main-thread and network causes, prioritises by impact.",
                "Sensible checks, little measurement.",
                "Lists tips without a method.",
                "No approach.",
            ),
            ["performance", "web"],
        ),
        written(
            "behavioural",
            "Tell me about a time you improved the accessibility of something you built.",
            "The barrier found (how: testing with a screen reader, keyboard only, an audit), what they changed "
            "(semantics, labels, focus order, contrast), and how they checked it worked.",
            (
                "A concrete barrier, a correct fix and verification with assistive technology.",
                "A concrete fix, verification thin.",
                "General awareness without an example.",
                "No example.",
            ),
            ["accessibility", "star-method"],
        ),
        written(
            "system_design",
            "Design the client side of a live comment feed that must survive flaky networks.",
            "One socket with reconnect and backoff; resume from the last seen sequence number; optimistic posts with "
            "client ids, reconciled with the server's echo; an offline indicator; rendering text safely.",
            (
                "Reconnect, resume by sequence, idempotent optimistic posts and safe rendering.",
                "Reconnect and resume; idempotency missing.",
                "A socket without loss handling.",
                "No workable design.",
            ),
            ["realtime", "web", "reliability"],
        ),
        written(
            "open",
            "What is a Content Security Policy and why would a site use one?",
            "An HTTP header telling the browser which sources of scripts, styles and other content to allow; it limits "
            "the damage of cross-site scripting by refusing inline or foreign scripts; nonces or hashes allow chosen "
            "inline code.",
            (
                "Explains the header, the XSS mitigation, and nonces or hashes.",
                "Explains the purpose, few details.",
                "Vague about what it controls.",
                "Wrong or missing.",
            ),
            ["security", "web"],
        ),
    ),
)

PRODUCT_CASE = CatalogueTemplate(
    slug="product-case-study",
    title="Product case study",
    role="Product analyst",
    interview_type="case_study",
    difficulty="medium",
    level="junior",
    duration_minutes=35,
    question_seconds=None,
    rubric="Structured thinking, the right metrics, hypotheses tested with data, and a clear recommendation.",
    questions=(
        written(
            "open",
            "Weekly active users of a learning app dropped 15% last week. How do you find out why?",
            "Check the data first (tracking change, outage); segment by platform, country, new vs returning users and "
            "feature; compare with seasonality; form hypotheses (a release, a pricing change, a competitor) and test "
            "each against the segments; recommend the next step.",
            (
                "Validates the data, segments systematically, tests hypotheses and recommends.",
                "Segments and hypothesises; skips data validation or a recommendation.",
                "Lists possible causes without a method.",
                "No structure.",
            ),
            ["metrics", "analysis"],
        ),
        mc(
            "An A/B test shows a 2% lift with p = 0.30. What should you conclude?",
            [
                ("a", "The variant is 2% better"),
                ("b", "The result is not statistically significant; the lift may be noise"),
                ("c", "The variant is worse"),
                ("d", "Ship both variants"),
            ],
            ["b"],
            "p = 0.30 is far above the usual 0.05: the data do not distinguish the variants.",
            ["experiments", "statistics"],
        ),
        written(
            "open",
            "Which three metrics would you track for a new mentoring feature, and why?",
            "A usage metric (share of learners booking a session), an outcome metric (completion or skill progress "
            "after sessions) and a quality or guardrail metric (ratings, cancellations, mentor load); each tied to the "
            "feature's goal, with a target.",
            (
                "Usage, outcome and guardrail metrics, each justified with a target.",
                "Three sensible metrics, justification thin.",
                "Vanity metrics only.",
                "No metrics.",
            ),
            ["metrics", "product"],
        ),
        written(
            "behavioural",
            "Tell me about a time your analysis changed a decision someone had already made.",
            "The decision, the analysis and its evidence, how they presented it to the decision maker, and the outcome.",
            (
                "Clear evidence, tactful communication, and the changed outcome.",
                "Evidence and outcome, communication thin.",
                "Analysis without influence.",
                "No example.",
            ),
            ["influence", "communication", "star-method"],
        ),
        mc(
            "Which chart best shows the trend of daily sign-ups over three months?",
            [
                ("a", "Pie chart"),
                ("b", "Line chart"),
                ("c", "Scatter plot of two unrelated metrics"),
                ("d", "Table only"),
            ],
            ["b"],
            "A line chart over time shows a trend; a pie shows parts of a whole.",
            ["visualisation"],
        ),
        written(
            "open",
            "How would you decide whether to build a feature that only 5% of users asked for?",
            "Size the opportunity (who the 5% are and their value), the cost and risk, alternatives, the strategic fit; "
            "test cheaply (a prototype or a fake door) before building; decide with a stated metric.",
            (
                "Sizes value and cost, considers strategy, proposes a cheap test and a decision metric.",
                "Weighs value and cost, no test.",
                "Decides by the 5% alone.",
                "No reasoning.",
            ),
            ["product", "prioritisation"],
        ),
    ),
)

CULTURE = CatalogueTemplate(
    slug="cultural-fit-conversation",
    title="Values and ways of working",
    role="Any role",
    interview_type="cultural_fit",
    difficulty="easy",
    level="junior",
    duration_minutes=20,
    question_seconds=300,
    rubric="Honest, specific answers showing self-awareness, respect for others and how the candidate likes to work.",
    questions=(
        written(
            "behavioural",
            "What kind of team environment helps you do your best work? Give an example.",
            "Describes concrete conditions (clear goals, feedback, autonomy, quiet time) with an example of a team "
            "where it worked, and how they contribute to such an environment.",
            (
                "Specific conditions, an example, and their own contribution.",
                "Specific conditions and an example.",
                "Generic wishes.",
                "No answer of substance.",
            ),
            ["self-awareness", "teamwork"],
        ),
        written(
            "behavioural",
            "Tell me about a time you worked with someone very different from you.",
            "The difference, the friction or opportunity, what they did to understand the other person, and the result.",
            (
                "Respectful, specific, with actions and a result.",
                "Specific, result vague.",
                "Generic.",
                "Dismissive or no example.",
            ),
            ["teamwork", "inclusion", "star-method"],
        ),
        written(
            "open",
            "Why do you want to work in this role, and what do you hope to learn in your first year?",
            "Connects their experience and interests to the role, names two or three concrete things to learn, and how "
            "they would go about it.",
            (
                "Specific motivation and concrete learning goals with a plan.",
                "Specific motivation, goals vague.",
                "Generic motivation.",
                "No clear motivation.",
            ),
            ["motivation", "growth"],
        ),
        written(
            "behavioural",
            "Describe a time you had to say no to a request. How did you do it?",
            "The request and why no was right, how they explained it, the alternative offered, and the relationship "
            "afterwards.",
            (
                "Clear reasons, respectful delivery, an alternative and a good outcome.",
                "Clear reasons and delivery.",
                "Avoided the conversation or was abrupt.",
                "No example.",
            ),
            ["communication", "boundaries", "star-method"],
        ),
        written(
            "open",
            "How do you keep learning outside of your day-to-day work?",
            "Concrete habits (reading, courses, side projects, communities), something recent they learned, and how "
            "they applied it.",
            (
                "Concrete habits, a recent example and its application.",
                "Concrete habits, no application.",
                "Vague.",
                "No answer.",
            ),
            ["growth", "learning"],
        ),
        mc(
            "A teammate's pull request has a bug you spotted just after it was merged. What do you do first?",
            [
                ("a", "Fix it quietly yourself"),
                ("b", "Tell the teammate and agree on the fix together"),
                ("c", "Mention it at the next retrospective"),
                ("d", "Ignore it: it was reviewed"),
            ],
            ["b"],
            "Telling the author keeps them informed and the fix owned; a quiet fix or waiting leaves the bug and the gap.",
            ["teamwork", "communication"],
        ),
    ),
)

PUBLIC_TEMPLATES: tuple[CatalogueTemplate, ...] = (
    PYTHON_BACKEND,
    BEHAVIOURAL,
    SYSTEM_DESIGN,
    FRONTEND_MIXED,
    PRODUCT_CASE,
    CULTURE,
)
