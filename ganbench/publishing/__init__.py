"""What readers see, made from results: tables in every format (tables.py), the
leaderboards (leaderboard.py), the static site (publish.py) and a run's report.html
(report.py). Every name in them comes from files that others may write: escaped,
never executed (docs/security.md)."""
