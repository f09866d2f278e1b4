"""Scheduled synthetic monitoring: checks on a cadence, alert rules, history, the dashboard."""
