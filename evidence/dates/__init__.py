"""Dates on screenshots, by stage: `names` (month/weekday/day words per language, from
CLDR), `find` (every date on every OCR line), `order` (which reading of a numeric date:
DMY, MDY or YMD, from the evidence), `filed` (which date is the client's message's, from
the layout), `span` (a date far outside the case's others). `when` resolves the result
into the one timestamp an exhibit is filed under."""
