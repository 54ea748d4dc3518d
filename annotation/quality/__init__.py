"""Quality-control statistics as plain functions on plain data (no ORM).

annotation.selectors.quality turns Judgment and Assignment rows into the records these
functions take; pages and the API only shape what comes out.
"""
