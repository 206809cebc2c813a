"""Make mattermost_ha.aws importable in place: collections/ansible_collections/mattermost_ha/aws -> repo."""

import sys
from pathlib import Path

COLLECTIONS = Path(__file__).resolve().parents[4] / "collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
