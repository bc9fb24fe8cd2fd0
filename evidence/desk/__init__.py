"""`evidence serve`: the team's dispute desk, a thin web layer over the library.

models.py (tables) · db.py (engine, sessions, migrations on start) · migrations/ (Alembic)
casefiles.py (a case row <-> a case folder on disk; uploads) · jobs.py (background work:
check, build, deep validate) · security.py (passwords, sessions, CSRF, rate limit)
app.py (the Starlette app) · routes/ (pages by role) · templates/, static/ (ship in the wheel)
"""
