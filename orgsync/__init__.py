"""The orgsync application: the `orgsync` command line and the process runner (the top floor)."""
