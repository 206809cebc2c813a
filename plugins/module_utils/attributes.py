# -*- coding: utf-8 -*-

# Copyright: mattermost_ha.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Key/value attribute lists (ELBv2 and friends): normalise and compare them honestly.

AWS returns every attribute value as a string ("true", "43200"); users write YAML booleans
and integers. Comparing the two naively is how community.aws.elb_target_group ends up
reporting a change on every run.
"""


def normalize_attribute_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def attribute_list_to_dict(attributes):
    return {item["Key"]: item.get("Value", "") for item in attributes or []}


def attributes_to_change(current, desired):
    """The {key: value} of desired that differ from current (values normalised to strings)."""
    wanted = {key: normalize_attribute_value(value) for key, value in desired.items()}
    return {key: value for key, value in wanted.items() if current.get(key) != value}
