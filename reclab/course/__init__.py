"""Instructor tools: the list of labs, building ``labs/`` and grading a class, on nbgrader.

- :mod:`reclab.course.registry` — the single list of labs (stem, checks, budget, protocol);
- :mod:`reclab.course.driver` — the one place that drives nbgrader (scratch courses, workers);
- :mod:`reclab.course.build` — ``reclab labs build [--check]``: ``solutions/`` → ``labs/``;
- :mod:`reclab.course.grading` — ``reclab grade``: a class → ``grades.csv`` and feedback.

This ``__init__`` imports nothing, so importing one tool never loads the others (and no
import cycle can go through the package).

Example:
    >>> from reclab.course.registry import lab
    >>> lab("00_movielens_tour").budget_seconds
    120
"""
