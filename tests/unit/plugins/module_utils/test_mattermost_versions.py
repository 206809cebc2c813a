"""Which version changes a rolling upgrade takes (plugins/module_utils/mattermost_versions.py)."""

import pytest
from ansible_collections.mattermost_ha.aws.plugins.module_utils.mattermost_versions import upgrade_refusal

ESRS = ["9.5", "9.11", "10.5", "10.11", "11.7"]


@pytest.mark.parametrize("current,target", [
    ("11.7.9", "11.7.9"),     # nothing to do
    ("11.7.8", "11.7.9"),     # patch
    ("11.7.9", "11.8.0"),     # one minor step
    ("10.11.8", "11.7.9"),    # ESR to the next ESR
    ("10.10.2", "10.11.8"),   # one minor step onto an ESR
])
def test_supported_steps_are_allowed(current, target):
    assert upgrade_refusal(current, target, ESRS) == ""


def test_skipping_an_esr_is_refused_and_names_it():
    reason = upgrade_refusal("10.5.3", "11.7.9", ESRS)
    assert "skips the Extended Support Release 10.11" in reason
    assert "10.11.x first" in reason


def test_two_minor_versions_at_once_are_refused():
    reason = upgrade_refusal("11.7.9", "11.9.0", ESRS)
    assert "more than one minor version" in reason
    assert "11.8.x first" in reason


def test_a_new_major_version_from_a_release_that_is_not_an_esr_is_refused():
    assert "more than one minor version" in upgrade_refusal("11.9.1", "12.0.0", ESRS)


def test_a_downgrade_needs_to_be_allowed():
    assert "mattermost_ha_upgrade_allow_downgrade" in upgrade_refusal("11.7.9", "11.7.8", ESRS)
    assert upgrade_refusal("11.7.9", "11.7.8", ESRS, allow_downgrade=True) == ""


def test_a_downgrade_to_an_older_schema_is_refused_even_when_allowed():
    assert "older" in upgrade_refusal("11.8.0", "11.7.9", ESRS, allow_downgrade=True)


@pytest.mark.parametrize("bad", ["11.7", "latest", "11.7.9-rc1", ""])
def test_a_version_that_is_not_major_minor_patch_is_an_error(bad):
    with pytest.raises(ValueError):
        upgrade_refusal(bad, "11.7.9", ESRS)
