"""The desk's routes, by area: auth (sign in/out), cases (a developer's work), documents
(documents and the rebuttal letter), review (the admin's queue and decisions), users
(admin)."""
from . import auth, cases, documents, review, users

ROUTES = auth.ROUTES + cases.ROUTES + documents.ROUTES + review.ROUTES + users.ROUTES
