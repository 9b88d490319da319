"""Scheduled jobs: APScheduler wiring and one module per job; each job calls service functions only."""
