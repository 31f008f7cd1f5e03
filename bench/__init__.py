"""The benchmark harness: orgsync against per-record baselines on the same emulator (issue 9)."""
