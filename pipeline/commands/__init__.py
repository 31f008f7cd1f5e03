"""Sub-commands of `orgsync`; see pipeline/cli.py for the contract each module follows."""
