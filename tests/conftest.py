from __future__ import annotations

import os
import tempfile

# Workers started by tests keep their token caches here (orgsync/orgs.py), never in the
# developer's own state directory.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="orgsync-test-state-")

# The broker fixtures, shared by tests/component and tests/integration: the local broker, a
# SASL_SSL broker and a 3-node cluster (the last two started only by tests that ask for them).
pytest_plugins = ["tests.support.kafka", "tests.support.secure_kafka", "tests.support.cluster"]
