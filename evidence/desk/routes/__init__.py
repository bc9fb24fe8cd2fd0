"""The desk's routes, by area: auth (sign in/out), cases (a developer's work), review
(the admin's queue and decisions), users (admin)."""
from . import auth, cases, review, users

ROUTES = auth.ROUTES + cases.ROUTES + review.ROUTES + users.ROUTES
