"""Team-health: detectors over the team's activity, grounded suggestions, feedback, runs."""
