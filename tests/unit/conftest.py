"""Unit tests import the collection as ansible_collections.mattermost_ha.aws.

collections/ansible_collections/mattermost_ha/aws links to the repository root; putting
collections/ on sys.path adds it to the ansible_collections namespace package, next to the
collections bundled with the `ansible` package.
"""

import sys
from pathlib import Path

_COLLECTIONS = str(Path(__file__).resolve().parents[2] / "collections")
if _COLLECTIONS not in sys.path:
    sys.path.append(_COLLECTIONS)
