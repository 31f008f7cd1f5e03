"""The shared kernel of orgsync: settings, event records and topic names.

The ground floor: it does no I/O and imports nothing else of orgsync, and everything else may
import it. `settings` (the schema) and `config_file` (reading a file into it), `events` (the
values of the topics), `topics` (every topic name and the consumer group).
"""
