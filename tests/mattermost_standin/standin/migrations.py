"""The schema migrations the real server records in ``db_migrations`` (morph), per version.

The real server applies its PostgreSQL migrations (server/channels/db/migrations/postgres/
NNNNNN_name.up.sql) with morph at start-up and records each one in
``db_migrations (version bigint not null primary key, name varchar not null)``.
``mattermost db version`` prints the highest version (``SELECT Version FROM db_migrations
ORDER BY Version DESC LIMIT 1``).

Names: server/channels/db/migrations/migrations.list of mattermost/mattermost (commit
0007aa8398ca, which lists 1 to 175; 110 was never used). Which of them v11.7 carries: the
v11.7 row of the upgrade notes (mattermost/docs
source/administration-guide/upgrade/important-upgrade-notes.rst, commit 0039dfcd2929) lists
159 to 167 and 171 (drop_property_fields_protected_index); 168 to 170 came with v11.8.
So a v11.7 database holds 1 to 167 and 171, and its schema version is 171.

The stand-in records the rows only; it does not create the tables they stand for. Versions it
has no list for record nothing (see the README).
"""

_NAMES = """
1 create_teams
2 create_team_members
3 create_cluster_discovery
4 create_command_webhooks
5 create_compliances
6 create_emojis
7 create_user_groups
8 create_group_members
9 create_group_teams
10 create_group_channels
11 create_link_metadata
12 create_commands
13 create_incoming_webhooks
14 create_outgoing_webhooks
15 create_systems
16 create_reactions
17 create_roles
18 create_schemes
19 create_licenses
20 create_posts
21 create_product_notice_view_state
22 create_sessions
23 create_terms_of_service
24 create_audits
25 create_oauth_access_data
26 create_preferences
27 create_status
28 create_tokens
29 create_bots
30 create_user_access_tokens
31 create_remote_clusters
32 create_sharedchannels
33 create_sidebar_channels
34 create_oauthauthdata
35 create_sharedchannelattachments
36 create_sharedchannelusers
37 create_sharedchannelremotes
38 create_jobs
39 create_channel_member_history
40 create_sidebar_categories
41 create_upload_sessions
42 create_threads
43 thread_memberships
44 create_user_terms_of_service
45 create_plugin_key_value_store
46 create_users
47 create_file_info
48 create_oauth_apps
49 create_channels
50 create_channelmembers
51 create_msg_root_count
52 create_public_channels
53 create_retention_policies
54 create_crt_channelmembership_count
55 create_crt_thread_count_and_unreads
56 upgrade_channels_v6.0
57 upgrade_command_webhooks_v6.0
58 upgrade_channelmembers_v6.0
59 upgrade_users_v6.0
60 upgrade_jobs_v6.0
61 upgrade_link_metadata_v6.0
62 upgrade_sessions_v6.0
63 upgrade_threads_v6.0
64 upgrade_status_v6.0
65 upgrade_groupchannels_v6.0
66 upgrade_posts_v6.0
67 upgrade_channelmembers_v6.1
68 upgrade_teammembers_v6.1
69 upgrade_jobs_v6.1
70 upgrade_cte_v6.1
71 upgrade_sessions_v6.1
72 upgrade_schemes_v6.3
73 upgrade_plugin_key_value_store_v6.3
74 upgrade_users_v6.3
75 alter_upload_sessions_index
76 upgrade_lastrootpostat
77 upgrade_users_v6.5
78 create_oauth_mattermost_app_id
79 usergroups_displayname_index
80 posts_createat_id
81 threads_deleteat
82 upgrade_oauth_mattermost_app_id
83 threads_threaddeleteat
84 recent_searches
85 fileinfo_add_archived_column
86 add_cloud_limits_archived
87 sidebar_categories_index
88 remaining_migrations
89 add-channelid-to-reaction
90 create_enums
91 create_post_reminder
92 add_createat_to_teamembers
93 notify_admin
94 threads_teamid
95 remove_posts_parentid
96 threads_threadteamid
97 create_posts_priority
98 create_post_acknowledgements
99 create_drafts
100 add_draft_priority_column
101 create_true_up_review_history
102 posts_originalid_index
103 add_sentat_to_notifyadmin
104 upgrade_notifyadmin
105 remove_tokens
106 fileinfo_channelid
107 threadmemberships_cleanup
108 remove_orphaned_oauth_preferences
109 create_persistent_notifications
111 update_vacuuming
112 rework_desktop_tokens
113 create_retentionidsfordeletion_table
114 sharedchannelremotes_drop_nextsyncat_description
115 user_reporting_changes
116 create_outgoing_oauth_connections
117 msteams_shared_channels
118 create_index_poststats
119 msteams_shared_channels_opts
120 create_channelbookmarks_table
121 remove_true_up_review_history
122 preferences_value_length
123 remove_upload_file_permission
124 remove_manage_team_permission
125 remoteclusters_add_default_team_id
126 sharedchannels_remotes_add_deleteat
127 add_mfa_used_ts_to_users
128 create_scheduled_posts
129 add_property_system_architecture
130 system_console_stats
131 create_index_pagination_on_property_values
132 create_index_pagination_on_property_fields
133 add_channel_banner_fields
134 create_access_control_policies
135 sidebarchannels_categoryid
136 create_attribute_view
137 update_attribute_view
138 add_default_category_name_to_channel
139 remoteclusters_add_last_global_user_sync_at
140 add_lastmemberssyncat_to_sharedchannelremotes
141 add_remoteid_channelid_to_post_acknowledgements
142 create_content_flagging_tables
143 content_flagging_table_index
144 add_dcr_fields_to_oauth_apps
145 add_pkce_to_oauthauthdata
146 add_audience_and_resource_to_oauth
147 create_autotranslation_tables
148 add_burn_on_read_messages
149 create_recaps
150 add_translation_state
151 add_autotranslationdisabled_to_channelmembers
152 translations_primary_key_change
153 add_translation_channel_id
154 drop_translation_updateat_index
155 create_translation_channel_updateat_index
156 add_schemeid_to_roles
157 backfill_roles_schemeid
158 add_roles_schemeid_index
159 deduplicate_policy_names
160 add_user_tracking_to_properties
161 add_object_type_to_property_fields
162 drop_property_fields_old_unique_index
163 create_property_fields_legacy_index
164 create_property_fields_typed_index
165 add_protected_and_permissions_to_property_fields
166 create_views
167 create_views_channel_id_delete_at_index
168 add_linked_field_id_to_property_fields
169 create_linked_field_id_index
170 add_property_groups_version
171 drop_property_fields_protected_index
"""

ALL = [(int(number), name) for number, name in (line.split() for line in _NAMES.strip().splitlines())]

# major.minor -> the versions that release applies (see the module docstring).
_RELEASES = {
    "11.7": [version for version, _ in ALL if version <= 167 or version == 171],
    # 168 to 170 came with v11.8 (upgrade notes, as above): a v11.8 database holds 1 to 171.
    "11.8": [version for version, _ in ALL],
}


def for_version(server_version):
    """[(version, name)] a server of this version records, or None when the stand-in does not know them."""
    wanted = _RELEASES.get(".".join(server_version.split(".")[:2]))
    if wanted is None:
        return None
    names = dict(ALL)
    return [(version, names[version]) for version in wanted]
