"""Operating orgsync: dead letters, consumer offsets and lag, monitoring, logs, the status page.

A middle floor beside the pipeline and the ingress: it reads and writes Kafka through
`connectors`, and the process that runs it mounts it (`orgsync.runner`).
"""
