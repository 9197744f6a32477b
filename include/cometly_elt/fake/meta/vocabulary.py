"""The levels, statuses and fields the fake Meta knows (docs/meta-api.md §2, §4)."""

from __future__ import annotations

LEVELS = ("account", "campaign", "adset", "ad")

# effective_status values each level accepts (SDK enums); others are error 100/1487561.
_BASE_STATUSES = ("ACTIVE", "PAUSED", "DELETED", "ARCHIVED", "IN_PROCESS", "WITH_ISSUES")
VALID_STATUSES = {
    "campaign": _BASE_STATUSES,
    "adset": (*_BASE_STATUSES, "CAMPAIGN_PAUSED"),
    "ad": (*_BASE_STATUSES, "CAMPAIGN_PAUSED", "ADSET_PAUSED", "DISAPPROVED", "PENDING_REVIEW",
           "PREAPPROVED", "PENDING_BILLING_INFO"),
}
EDGE_KIND = {"campaigns": "campaign", "adsets": "adset", "ads": "ad"}
NODE_TYPE = {"campaign": "Campaign", "adset": "AdSet", "ad": "Ad", "account": "AdAccount"}

OBJECT_FIELDS = {
    "campaign": ("id", "name", "account_id", "status", "configured_status", "effective_status", "objective",
                 "created_time"),
    "adset": ("id", "name", "account_id", "campaign_id", "status", "configured_status", "effective_status",
              "created_time"),
    "ad": ("id", "name", "account_id", "campaign_id", "adset_id", "status", "configured_status",
           "effective_status", "created_time"),
}
ACCOUNT_FIELDS = ("id", "account_id", "name", "currency", "timezone_name", "timezone_offset_hours_utc",
                  "account_status")
INSIGHT_FIELDS = ("account_id", "account_name", "account_currency", "campaign_id", "campaign_name", "adset_id",
                  "adset_name", "ad_id", "ad_name", "objective", "spend", "impressions", "clicks", "cpc", "cpm",
                  "ctr", "date_start", "date_stop")
DEFAULT_INSIGHT_FIELDS = ("impressions", "spend")
